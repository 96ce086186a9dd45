//! The stub init of `--as-pid2`: PID 1 of the namespace while the command runs as PID 2.
//!
//! Like nspawn's `(sd-stubinit)`: it reaps every zombie, forwards signals to the payload, turns
//! the shutdown signals into a clean stop of the namespace, and exits with the payload's exit
//! code (255 when the payload was killed by a signal, as nspawn). Unlike nspawn 252 its
//! `/proc/1/environ` really shows only `container=` and `container_uuid=` (see
//! [`wharf_sys::process::replace_cmdline_and_environ`]), and it holds no file descriptor
//! beyond stdio.

use std::time::{Duration, Instant};

use wharf_sys::process::{self, Exit, Pid};
use wharf_sys::signal;

/// The stub's name in `/proc/1/comm` and `/proc/1/cmdline`.
pub const STUB_NAME: &str = "wharf-init";

/// How long the stub waits for processes to exit after SIGTERM on shutdown.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Signals the stub handles; blocked before the payload is forked so none is lost.
pub(crate) fn signals() -> Vec<i32> {
    let rt = signal::sigrtmin();
    let mut v = vec![
        libc::SIGCHLD,
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
        libc::SIGCONT,
    ];
    v.extend([3, 4, 5, 6, 13, 14, 15, 16].iter().map(|o| rt + o));
    v
}

/// What a signal to the stub means (nspawn's stub: RTMIN+3/+4/+13/+14 power off,
/// SIGINT/RTMIN+5/+6/+15/+16 reboot; everything else is passed on).
enum Action {
    Reap,
    PowerOff,
    Reboot,
    Forward(i32),
}

fn action(sig: i32) -> Action {
    let rt = signal::sigrtmin();
    match sig {
        libc::SIGCHLD => Action::Reap,
        s if [3, 4, 13, 14].iter().any(|o| rt + o == s) => Action::PowerOff,
        s if s == libc::SIGINT || [5, 6, 15, 16].iter().any(|o| rt + o == s) => Action::Reboot,
        s => Action::Forward(s),
    }
}

/// Run as the stub init for `payload`. `env_block`: the NUL-separated environment to show.
/// The caller has blocked [`signals`] and owns no file descriptor beyond stdio.
pub(crate) fn stub(payload: Pid, env_block: &[u8]) -> ! {
    let _ = process::set_name(STUB_NAME);
    let mut cmdline = STUB_NAME.as_bytes().to_vec();
    cmdline.push(0);
    let _ = process::replace_cmdline_and_environ(&cmdline, env_block);
    let sigs = signals();
    loop {
        let sig = match signal::wait(&sigs, None) {
            Ok(Some(s)) => s,
            Ok(None) => continue,
            Err(_) => std::process::exit(255),
        };
        match action(sig) {
            Action::Reap => {
                for (pid, exit) in process::reap_ended() {
                    if pid == payload {
                        std::process::exit(match exit {
                            Exit::Code(c) => c,
                            Exit::Signal(_) => 255,
                        });
                    }
                }
            }
            Action::PowerOff => shutdown(false, &sigs),
            Action::Reboot => shutdown(true, &sigs),
            Action::Forward(s) => {
                let _ = process::kill(payload, s);
            }
        }
    }
}

/// Stop everything (SIGTERM, then SIGKILL after [`STOP_TIMEOUT`]) and end the namespace with
/// `reboot()`, which wharf sees as PID 1 killed by SIGINT (power off) or SIGHUP (restart).
fn shutdown(restart: bool, sigs: &[i32]) -> ! {
    let _ = process::kill_all(libc::SIGTERM);
    let _ = process::kill_all(libc::SIGCONT);
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        process::reap_ended();
        if !process::children_left() {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = process::kill_all(libc::SIGKILL);
            while let Ok(Some(_)) = process::wait_any() {}
            break;
        }
        let _ = signal::wait(sigs, Some(left.min(Duration::from_millis(100))));
    }
    let _ = process::reboot(restart);
    std::process::exit(if restart { 133 } else { 0 });
}
