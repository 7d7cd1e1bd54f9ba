//! Processes the tests talk to. A peer that is not installed is skipped with
//! a message, except under `CI`, where every peer must be exercised.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Whether `bin` is on PATH; without it, skip — or fail under `CI`.
pub fn require_peer(bin: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(bin).is_file()));
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{bin} is not installed, and CI requires it (apt-get install -y {})",
            if bin == "docker-registry" {
                "docker-registry"
            } else {
                bin
            }
        );
        eprintln!("skipped: {bin} not installed");
    }
    found
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `regctl serve` on a free port over a root directory.
pub struct Serve {
    child: Child,
    addr: String,
    root: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

impl Serve {
    pub fn start(extra: &[&str]) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Serve::start_with_root(&dir.path().join("root"), extra);
        s._dir = Some(dir);
        s
    }

    pub fn start_with_root(root: &Path, extra: &[&str]) -> Serve {
        Serve::start_with_env(root, extra, &[])
    }

    /// [`Serve::start_with_root`] with more environment variables.
    pub fn start_with_env(root: &Path, extra: &[&str], env: &[(&str, &str)]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_regctl"))
            .args(["serve", "--port", "0", "--root"])
            .arg(root)
            .args(extra)
            .envs(env.iter().copied())
            .env("NO_COLOR", "1")
            // The server reads the config file's [serve] section: keep a
            // developer's own settings out of the tests.
            .env("XDG_CONFIG_HOME", root.with_file_name("xdg-config"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start regctl serve");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let addr = line
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split_once("://"))
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected start-up line {line:?}"))
            .to_owned();
        Serve {
            child,
            addr,
            root: root.to_owned(),
            _dir: None,
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The server's process id (to read its memory use).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crash: no shutdown, no flushing.
    pub fn kill(mut self) {
        kill(&mut self.child);
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "regctl serve ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The real CNCF distribution registry (`docker-registry`, registry:2).
pub struct DistRegistry {
    child: Child,
    addr: String,
    root: PathBuf,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for DistRegistry {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn answers(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET /v2/ HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut buf = [0u8; 8];
    s.write_all(req.as_bytes()).is_ok() && s.read_exact(&mut buf).is_ok()
}

impl DistRegistry {
    /// Starts on a fresh root; `None` when docker-registry is not installed.
    pub fn start(delete_enabled: bool) -> Option<DistRegistry> {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        Self::start_in(dir, &root, delete_enabled, "")
    }

    /// Starts on a fresh root, asking for Basic credentials from an
    /// htpasswd file (bcrypt entries).
    pub fn start_with_htpasswd(htpasswd: &Path) -> Option<DistRegistry> {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let auth = format!(
            "auth:\n  htpasswd:\n    realm: regctl-test\n    path: {}\n",
            htpasswd.display()
        );
        Self::start_in(dir, &root, true, &auth)
    }

    /// Starts on a fresh root with more top-level config.yml sections
    /// (e.g. `notifications:`).
    pub fn start_with_config(extra: &str) -> Option<DistRegistry> {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        Self::start_in(dir, &root, true, extra)
    }

    /// Serves an existing root (e.g. one written by `regctl serve`).
    pub fn start_with_root(root: &Path, delete_enabled: bool) -> Option<DistRegistry> {
        Self::start_in(tempfile::tempdir().unwrap(), root, delete_enabled, "")
    }

    /// `extra`: more top-level config.yml sections (e.g. `auth:`).
    /// Starts with another storage driver: `driver` is the YAML under
    /// `storage:` (indented two spaces, e.g. `  s3:\n    bucket: b\n`), and
    /// `env` the process environment it needs; the caller's `AWS_*`
    /// variables are removed (registry:2's s3 driver panics at start when
    /// `AWS_CA_BUNDLE` is set).
    pub fn start_with_storage(driver: &str, env: &[(String, String)]) -> Option<DistRegistry> {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("unused-root");
        Self::start_configured(dir, &root, driver, true, "", env)
    }

    fn start_in(
        dir: tempfile::TempDir,
        root: &Path,
        delete_enabled: bool,
        extra: &str,
    ) -> Option<DistRegistry> {
        let driver = format!("  filesystem:\n    rootdirectory: {}\n", root.display());
        Self::start_configured(dir, root, &driver, delete_enabled, extra, &[])
    }

    fn start_configured(
        dir: tempfile::TempDir,
        root: &Path,
        driver: &str,
        delete_enabled: bool,
        extra: &str,
        env: &[(String, String)],
    ) -> Option<DistRegistry> {
        if !require_peer("docker-registry") {
            return None;
        }
        // A port picked by binding :0 can be taken before the registry
        // binds it; try a few.
        for _ in 0..5 {
            let addr = format!("127.0.0.1:{}", free_port());
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: error\nstorage:\n{driver}  delete:\n    enabled: {delete_enabled}\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: {addr}\n{extra}"
                ),
            )
            .unwrap();
            let mut cmd = Command::new("docker-registry");
            if !env.is_empty() {
                for (k, _) in std::env::vars() {
                    if k.starts_with("AWS_") {
                        cmd.env_remove(k);
                    }
                }
                cmd.envs(env.iter().map(|(k, v)| (k, v)));
            }
            // registry:2 writes its access log on stdout.
            let access_log = std::fs::File::create(dir.path().join("access.log")).unwrap();
            let mut child = cmd
                .arg("serve")
                .arg(&config)
                .stdout(access_log)
                .stderr(Stdio::null())
                .spawn()
                .expect("start docker-registry");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                if answers(&addr) {
                    return Some(DistRegistry {
                        child,
                        addr,
                        root: root.to_owned(),
                        config,
                        _dir: dir,
                    });
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            kill(&mut child);
        }
        panic!("docker-registry did not start");
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Its access log so far (one line per request, combined log format).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("access.log")).unwrap_or_default()
    }

    /// Its configuration file (for `garbage-collect`).
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// registry:2's own offline collector over this root.
    pub fn garbage_collect(&self, dry_run: bool, delete_untagged: bool) -> Output {
        let mut cmd = Command::new("docker-registry");
        cmd.arg("garbage-collect");
        if dry_run {
            cmd.arg("--dry-run");
        }
        if delete_untagged {
            cmd.arg("--delete-untagged");
        }
        cmd.arg(&self.config).output().unwrap()
    }
}

/// The real skopeo.
pub struct Skopeo;

impl Skopeo {
    pub fn find() -> Option<Skopeo> {
        require_peer("skopeo").then_some(Skopeo)
    }

    /// Runs `skopeo ARGS` with TLS verification off (loopback, plain http)
    /// and asserts success; returns stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("skopeo")
            .arg("--insecure-policy")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn copy(&self, src: &str, dst: &str, extra: &[&str]) {
        let mut args = vec!["copy", "--src-tls-verify=false", "--dest-tls-verify=false"];
        args.extend_from_slice(extra);
        args.push(src);
        args.push(dst);
        self.run(&args);
    }
}
