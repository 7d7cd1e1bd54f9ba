//! Exit codes and the one-line error report.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success (also: stdout closed early, e.g. piped into `head`) |
//! | 1 | error (network, registry, integrity, file) |
//! | 2 | usage: bad arguments, invalid reference, registry or platform |
//! | 3 | not found: repository, tag, manifest or blob unknown |
//! | 4 | authentication required or access denied |
//! | 5 | refused: destructive operation without `--yes` and no terminal to ask on, or declined; `rm` of a manifest a tagged index lists (without `--force`); `gc --root` on a root in use; `serve` on a root a collection holds |
//! | 6 | unsupported by the server (e.g. deletion disabled) |

use std::io::IsTerminal;
use std::process::ExitCode;

use regctl::client::{ClientError, ErrorKind};
use regctl::ops::gc::GcError;
use regctl::ops::platform::PlatformError;
use regctl::ops::resolve::ResolveError;
use regctl::storage::LockError;
use regctl::types::ErrorCode;

pub const OK: u8 = 0;
pub const ERROR: u8 = 1;
pub const USAGE: u8 = 2;
pub const NOT_FOUND: u8 = 3;
pub const AUTH: u8 = 4;
pub const REFUSED: u8 = 5;
pub const UNSUPPORTED: u8 = 6;

/// A destructive operation was not confirmed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// The registry refused the credentials given to `login`.
#[derive(Debug, thiserror::Error)]
#[error("logging in to {registry}: credentials rejected: {source}")]
pub struct LoginRejected {
    pub registry: String,
    #[source]
    pub source: ClientError,
}

/// The server does not offer what was asked (exit 6); the message says
/// what to use instead.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unsupported(pub String);

/// Bad user input (beyond what clap checks).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// Whether the error is a closed stdout (`regctl ls | head`).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            // JSON output fails with serde_json's error, which keeps the
            // I/O error's kind but not the error itself.
            || e.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

fn client_error(err: &anyhow::Error) -> Option<&ClientError> {
    err.chain().find_map(|e| {
        e.downcast_ref::<ClientError>()
            .or_else(|| {
                e.downcast_ref::<regctl::ops::copy::CopyError>()
                    .and_then(regctl::ops::copy::CopyError::client_error)
            })
            .or_else(|| {
                e.downcast_ref::<regctl::store::StoreError>()
                    .and_then(regctl::store::StoreError::client_error)
            })
            .or_else(|| {
                e.downcast_ref::<ResolveError>()
                    .and_then(ResolveError::client_error)
            })
            .or_else(|| {
                e.downcast_ref::<PlatformError>()
                    .and_then(PlatformError::client_error)
            })
    })
}

/// A `--platform` failure, wherever it is wrapped.
fn platform_error(err: &anyhow::Error) -> Option<&PlatformError> {
    err.chain().find_map(|e| {
        e.downcast_ref::<PlatformError>()
            .or_else(|| match e.downcast_ref::<ResolveError>() {
                Some(ResolveError::Platform(p)) => Some(p),
                _ => None,
            })
            .or_else(|| match e.downcast_ref::<regctl::ops::copy::CopyError>() {
                Some(regctl::ops::copy::CopyError::Platform(p)) => Some(p),
                _ => None,
            })
    })
}

/// The exit code for an error.
pub fn code_for(err: &anyhow::Error) -> u8 {
    if is_broken_pipe(err) {
        return OK;
    }
    if err.chain().any(|e| e.is::<Refused>()) {
        return REFUSED;
    }
    if err.chain().any(|e| e.is::<Unsupported>()) {
        return UNSUPPORTED;
    }
    if let Some(gc) = err.chain().find_map(|e| e.downcast_ref::<GcError>()) {
        match gc {
            GcError::Locked {
                error: LockError::Io { .. },
            }
            | GcError::Unreadable { .. } => return ERROR,
            GcError::Locked { .. } | GcError::Active { .. } | GcError::Busy => return REFUSED,
            GcError::NotARoot(_) | GcError::NoSuchRoot(_) => return USAGE,
            _ => {}
        }
    }
    // `serve` on a root a collection holds is refused; a lock file that
    // cannot be created is a file error.
    if let Some(lock) = err.chain().find_map(|e| e.downcast_ref::<LockError>()) {
        return match lock {
            LockError::Io { .. } => ERROR,
            LockError::InUseByServer { .. } | LockError::InUseByCollector { .. } => REFUSED,
        };
    }
    if matches!(platform_error(err), Some(PlatformError::NotFound { .. }))
        || err.chain().any(|e| {
            matches!(
                e.downcast_ref::<regctl::ops::du::UsageError>(),
                Some(regctl::ops::du::UsageError::Platform { .. })
            )
        })
    {
        return USAGE;
    }
    if err.chain().any(|e| {
        e.is::<Usage>()
            || e.is::<regctl::types::ParseError>()
            || e.is::<regctl::types::manifest::PlatformParseError>()
    }) {
        return USAGE;
    }
    match client_error(err).map(ClientError::kind) {
        Some(ErrorKind::NotFound) => NOT_FOUND,
        Some(ErrorKind::Auth) => AUTH,
        Some(ErrorKind::Unsupported) => UNSUPPORTED,
        _ => ERROR,
    }
}

/// A hint for the error, naming what to do.
pub fn hint_for(err: &anyhow::Error) -> Option<String> {
    // Its message already says what to use instead.
    if err.chain().any(|e| e.is::<Unsupported>()) {
        return None;
    }
    if err.chain().any(|e| e.is::<LoginRejected>()) {
        return Some("check the user name and password; nothing was saved".to_owned());
    }
    if let Some(ResolveError::NotFound {
        repository, cause, ..
    }) = err.chain().find_map(|e| e.downcast_ref::<ResolveError>())
    {
        return Some(match cause.code() {
            Some(ErrorCode::NameUnknown) => {
                let registry = repository.split('/').next().unwrap_or("REGISTRY");
                format!("list the repositories with `regctl ls {registry}`")
            }
            _ => format!("list the tags with `regctl tags {repository}`"),
        });
    }
    let denied = err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
    });
    // Lock and root errors carry their own advice.
    let advised = err
        .chain()
        .any(|e| e.is::<LockError>() || e.is::<GcError>());
    if denied && !advised && client_error(err).is_none() {
        return Some(
            "this user may not read or write that path: run regctl as the user that owns it \
             (for a registry's storage, its owner or root)"
                .to_owned(),
        );
    }
    let ce = client_error(err)?;
    let hint = match ce {
        ClientError::HttpsToHttp { registry } => format!(
            "{registry} speaks plain http: write http://{registry}, pass --insecure, or set \
             insecure = true under [registries.\"{registry}\"] in the regctl config file"
        ),
        ClientError::HttpToHttps { registry } => format!(
            "write https://{registry} (or drop http:// and any insecure = true for it); if its \
             certificate is self-signed, pass it with --ca-cert FILE"
        ),
        ClientError::Timeout { .. } => "is the registry overloaded or stuck? \
             raise the limit with --timeout (or REGCTL_TIMEOUT, or timeout in the config file)"
            .to_owned(),
        ClientError::Tls { url, .. } => {
            let host = host_of(url).unwrap_or_else(|| "HOST".to_owned());
            format!(
                "if the registry uses a private CA, pass --ca-cert FILE, set ca_cert under \
                 [registries.\"{host}\"] in the config file, or put it in /etc/docker/certs.d/{host}/ca.crt"
            )
        }
        ClientError::Connect { .. } => "is the registry running and reachable at that address?".to_owned(),
        ClientError::Proxy { url, .. } => {
            let host = url::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| "HOST".to_owned());
            format!("check that the proxy runs, or bypass it for this registry with NO_PROXY={host}")
        }
        ClientError::TagMoved { .. } => "run the command again to act on the tag's new target".to_owned(),
        _ => match (ce.kind(), ce.code()) {
            (ErrorKind::Unsupported, _) if is_delete(ce) => "deletion is disabled on the server. \
                 registry:2: set REGISTRY_STORAGE_DELETE_ENABLED=true (or storage.delete.enabled: true \
                 in its config.yml) and restart it; regctl serve: start it without --no-delete/--read-only"
                .to_owned(),
            (ErrorKind::Unsupported, _) if is_catalog(ce) => {
                "this registry does not offer its catalog (/v2/_catalog); list a repository's tags \
                 with `regctl tags REPO` instead"
                    .to_owned()
            }
            (ErrorKind::Unsupported, _) => {
                "the server does not support this operation (or it is disabled there)".to_owned()
            }
            (ErrorKind::Auth, _) => {
                let host = match ce {
                    ClientError::Registry { url, .. } => host_of(url),
                    _ => None,
                }
                .unwrap_or_else(|| "REGISTRY".to_owned());
                format!(
                    "log in with `regctl login {host}` (credentials are read from Docker's config.json)"
                )
            }
            (ErrorKind::NotFound, Some(ErrorCode::NameUnknown)) => {
                "list the repositories with `regctl ls REGISTRY`".to_owned()
            }
            (ErrorKind::NotFound, _) => "list the tags with `regctl tags REPO`".to_owned(),
            _ => return None,
        },
    };
    Some(hint)
}

/// `host[:port]` of a URL.
fn host_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let h = u.host_str()?;
    Some(u.port().map_or(h.to_owned(), |p| format!("{h}:{p}")))
}

fn is_delete(e: &ClientError) -> bool {
    matches!(e, ClientError::Registry { method, .. } if method == "DELETE")
}

fn is_catalog(e: &ClientError) -> bool {
    matches!(e, ClientError::Registry { url, .. } if url.contains("/v2/_catalog"))
}

/// Colour on stderr: only on a terminal, and never with `NO_COLOR` set.
pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

fn styled(s: &str, ansi: &str) -> String {
    if color_enabled() {
        format!("\x1b[{ansi}m{s}\x1b[0m")
    } else {
        s.to_owned()
    }
}

/// `context: cause: cause…`, leaving out a cause whose text the message
/// already holds (errors that print their source and also return it would
/// otherwise say it twice).
pub fn message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Prints `regctl: <context>: <cause>` and a `hint:` line; returns the code.
pub fn report(err: &anyhow::Error) -> ExitCode {
    let code = code_for(err);
    if is_broken_pipe(err) {
        return ExitCode::from(OK);
    }
    eprintln!("{} {}", styled("regctl:", "1;31"), message(err));
    if let Some(h) = hint_for(err) {
        eprintln!("{} {h}", styled("hint:", "1;33"));
    }
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("storage I/O failed: {0}")]
    struct SaysItsSource(#[source] std::io::Error);

    #[test]
    fn a_cause_the_message_already_holds_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "/srv/x: denied");
        let err = anyhow::Error::new(SaysItsSource(io)).context("measuring /srv");
        assert_eq!(
            message(&err),
            "measuring /srv: storage I/O failed: /srv/x: denied"
        );
    }

    #[test]
    fn unsupported_is_exit_6_without_a_hint() {
        let err = anyhow::Error::new(Unsupported("no online gc here".into()));
        assert_eq!(code_for(&err), UNSUPPORTED);
        assert_eq!(hint_for(&err), None);
    }
}
