//! A private PostgreSQL cluster for one test: `initdb` into a temporary
//! directory, its own port and socket directory, stopped and started at
//! will (`pg_ctl stop -m immediate` is a crash). The shared server on 5432
//! is never touched.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Why a private cluster could not be made or driven.
#[derive(Debug)]
pub enum ClusterError {
    /// PostgreSQL's server binaries (`initdb`, `pg_ctl`) are not installed:
    /// the test cannot run here.
    NotInstalled(String),
    /// A command failed; its output says why.
    Command(String),
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterError::NotInstalled(m) => write!(f, "PostgreSQL server binaries: {m}"),
            ClusterError::Command(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ClusterError {}

/// A PostgreSQL cluster of the test's own, removed when dropped.
///
/// ```no_run
/// # fn demo() -> Result<(), inbox_faults::ClusterError> {
/// let pg = inbox_faults::PrivateCluster::start_new()?;
/// println!("connect to {}", pg.url());
/// pg.stop_immediate()?; // as if the server crashed
/// pg.start()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PrivateCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// `initdb` refuses to run as root: as root, the cluster belongs to
    /// the `postgres` user and every command runs as that user.
    run_as: Option<&'static str>,
}

impl PrivateCluster {
    /// Creates a cluster in a new temporary directory and starts it.
    pub fn start_new() -> Result<Self, ClusterError> {
        let bin = server_bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("inbox-pg-")
            .tempdir()
            .map_err(|e| ClusterError::Command(format!("temporary directory: {e}")))?;
        let run_as = is_root().then_some("postgres");
        if let Some(user) = run_as {
            let mut chown = Command::new("chown");
            chown.arg(format!("{user}:")).arg(dir.path());
            run(chown, "chown")?;
        }
        let cluster = Self {
            port: free_port()?,
            dir,
            bin,
            run_as,
        };
        let mut initdb = cluster.command("initdb");
        initdb
            .arg("-D")
            .arg(cluster.data())
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8"])
            .args(["--locale=C", "--no-sync"]);
        run(initdb, "initdb")?;
        cluster.start()?;
        Ok(cluster)
    }

    /// Starts the (stopped) server and waits until it accepts connections.
    pub fn start(&self) -> Result<(), ClusterError> {
        let options = format!(
            "-p {} -h 127.0.0.1 -k {} -c fsync=off -c max_connections=60",
            self.port,
            self.dir.path().display()
        );
        let mut pg_ctl = self.command("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.log_path())
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        run(pg_ctl, "pg_ctl start").map_err(|e| self.with_log(e))
    }

    /// Stops the server at once, as a crash would: connections are cut,
    /// nothing is flushed, the next start recovers from the WAL.
    pub fn stop_immediate(&self) -> Result<(), ClusterError> {
        let mut pg_ctl = self.command("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"]);
        run(pg_ctl, "pg_ctl stop")
    }

    /// Where to connect (database `postgres`, user `postgres`, trust).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The server's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    fn with_log(&self, e: ClusterError) -> ClusterError {
        ClusterError::Command(format!("{e}\nserver log:\n{}", self.log()))
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.stop_immediate();
    }
}

/// The directory of `initdb` and `pg_ctl`: `$PG_BIN`, else the one
/// `pg_config --bindir` names, else the newest `/usr/lib/postgresql/*/bin`
/// (Debian keeps them off the `PATH`).
fn server_bin_dir() -> Result<PathBuf, ClusterError> {
    let has_initdb = |p: &Path| p.join("initdb").is_file() && p.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("PG_BIN").map(PathBuf::from) {
        return if has_initdb(&dir) {
            Ok(dir)
        } else {
            Err(ClusterError::NotInstalled(format!(
                "PG_BIN={} has no initdb and pg_ctl",
                dir.display()
            )))
        };
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_initdb(&dir) {
            return Ok(dir);
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, p)| has_initdb(p))
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p).ok_or_else(|| {
        ClusterError::NotInstalled(
            "no initdb found (set PG_BIN, or install PostgreSQL's server package)".into(),
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A port nobody listens on now (the server takes it right after).
fn free_port() -> Result<u16, ClusterError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| ClusterError::Command(format!("finding a free port: {e}")))
}

fn run(mut command: Command, what: &str) -> Result<(), ClusterError> {
    let out = command
        .output()
        .map_err(|e| ClusterError::Command(format!("{what}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    Err(ClusterError::Command(format!(
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )))
}
