//! A spinner on stderr while long work runs, only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Progress {
    done: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Progress {
    /// Start a spinner with `message`, if stderr is a terminal; otherwise do nothing.
    pub fn start(message: String) -> Progress {
        let done = Arc::new(AtomicBool::new(false));
        let handle = std::io::stderr().is_terminal().then(|| {
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
                let start = Instant::now();
                let mut i = 0;
                // Stay quiet for short work.
                std::thread::sleep(Duration::from_millis(300));
                while !done.load(Ordering::Relaxed) {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(
                        err,
                        "\r{} {message} {:.1}s",
                        frames[i % frames.len()],
                        start.elapsed().as_secs_f64()
                    );
                    let _ = err.flush();
                    drop(err);
                    i += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                if i > 0 {
                    let _ = write!(std::io::stderr(), "\r\x1b[2K");
                }
            })
        });
        Progress { done, handle }
    }

    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}
