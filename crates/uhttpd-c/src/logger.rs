//! The engine's log lines on standard error, as `uhttpd: LEVEL: message`
//! (MicroPython has no `logging`). `UHTTPD_LOG` sets the level (`error`,
//! `warn`, `info`, `debug`; default `warn`, as Python's root logger).

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let level = match record.level() {
                Level::Error => "ERROR",
                Level::Warn => "WARNING",
                Level::Info => "INFO",
                Level::Debug | Level::Trace => "DEBUG",
            };
            eprintln!("uhttpd: {level}: {}", record.args());
        }
    }

    fn flush(&self) {}
}

pub fn start() {
    let level = match std::env::var("UHTTPD_LOG").as_deref() {
        Ok("error") => LevelFilter::Error,
        Ok("info") => LevelFilter::Info,
        Ok("debug") => LevelFilter::Debug,
        _ => LevelFilter::Warn,
    };
    if log::set_logger(&Stderr).is_ok() {
        log::set_max_level(level);
    }
}
