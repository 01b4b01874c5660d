//! Spawning server processes that die with their parent, and stopping them.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::EmbeddedError;

type SpawnReply = mpsc::Sender<std::io::Result<Child>>;

/// The parent-death signal is tied to the thread that forked the child, not to the process: a
/// child forked from a short-lived thread (a test's runtime worker) would be killed when that
/// thread ends. So every child is forked from one thread that lives as long as the process.
static SPAWNER: OnceLock<mpsc::Sender<(Command, SpawnReply)>> = OnceLock::new();

fn spawner() -> &'static mpsc::Sender<(Command, SpawnReply)> {
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<(Command, SpawnReply)>();
        let spawned = std::thread::Builder::new().name("brokerdb-embedded-spawner".into()).spawn(
            move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            },
        );
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the spawner thread; children will be forked inline");
        }
        tx
    })
}

/// Spawns `cmd` in its own process group (so a terminal's Ctrl-C reaches only us, and we stop
/// the servers in order) with `death_signal` delivered to it if this process dies.
pub(crate) fn spawn(mut cmd: Command, death_signal: Signal) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    set_parent_death_signal(&mut cmd, death_signal);
    let (reply_tx, reply_rx) = mpsc::channel();
    match spawner().send((cmd, reply_tx)) {
        Ok(()) => reply_rx
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("the spawner thread is gone"))),
        Err(mpsc::SendError((mut cmd, _))) => cmd.spawn(),
    }
}

#[allow(unsafe_code)]
fn set_parent_death_signal(cmd: &mut Command, signal: Signal) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only makes the prctl(2)
    // system call, which is async-signal-safe; it allocates nothing and takes no locks.
    unsafe {
        cmd.pre_exec(move || nix::sys::prctl::set_pdeathsig(signal).map_err(std::io::Error::from));
    }
}

/// Sends `signal` to the child and waits up to `grace` for it to exit, then kills it.
pub(crate) fn stop(child: &mut Child, signal: Signal, grace: Duration) -> std::io::Result<()> {
    if child.try_wait()?.is_some() {
        return Ok(());
    }
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let _ = kill(pid, signal);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    tracing::warn!(pid = child.id(), "server did not stop in time; killing it");
    child.kill()?;
    child.wait().map(|_| ())
}

/// Gives `cmd` no stdin and appends its stdout and stderr to the log file at `path`.
pub(crate) fn log_to(cmd: &mut Command, path: &Path) -> Result<(), EmbeddedError> {
    let open = || {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(EmbeddedError::io("open log file", path))
    };
    cmd.stdin(Stdio::null()).stdout(open()?).stderr(open()?);
    Ok(())
}

/// A loopback TCP port that was free a moment ago.
pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// The last `lines` lines of a log file, joined with ` | ` for a one-line error.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return "(no log)".to_owned();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(8192)));
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    tail[tail.len().saturating_sub(lines)..].join(" | ")
}
