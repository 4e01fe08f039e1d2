//! Logging: one process-wide sink (the host's callback, or standard error when the
//! `WRS_LOG` environment variable names a level), with levels and areas. A message is
//! formatted only when its level is enabled (one relaxed atomic load otherwise), and nothing
//! is logged per packet below `Trace`. The crates the library uses that log through the `log`
//! facade (webrtc-ice's candidate pairs and checks, sctp-proto) reach the same sink, unless
//! the process installed a `log` logger of its own first.
//!
//! `WRS_LOG=debug` (or `error`, `warn`, `info`, `trace`) writes to standard error until a
//! host sets a callback; `WRS_LOG=debug:ice,dtls` keeps only those areas.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::sync::Arc;

use once_cell::sync::Lazy;
use parking_lot::RwLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl Level {
    pub fn from_u32(v: u32) -> Option<Level> {
        Some(match v {
            1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            5 => Level::Trace,
            _ => return None,
        })
    }

    fn parse(s: &str) -> Option<Level> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            "trace" => Level::Trace,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

/// Which layer a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Area {
    /// Signaling, tracks, connection state, the API.
    Session = 0,
    Ice = 1,
    Dtls = 2,
    Srtp = 3,
    Sctp = 4,
    Rtcp = 5,
}

impl Area {
    pub fn name(self) -> &'static str {
        match self {
            Area::Session => "session",
            Area::Ice => "ice",
            Area::Dtls => "dtls",
            Area::Srtp => "srtp",
            Area::Sctp => "sctp",
            Area::Rtcp => "rtcp",
        }
    }

    const ALL: [Area; 6] = [Area::Session, Area::Ice, Area::Dtls, Area::Srtp, Area::Sctp, Area::Rtcp];
}

pub type Sink = dyn Fn(Level, Area, &str) + Send + Sync;

/// The most verbose level any sink takes (0: logging off).
static MAX: AtomicU8 = AtomicU8::new(0);
/// Areas enabled, one bit each.
static AREAS: AtomicU32 = AtomicU32::new(u32::MAX);
static SINK: Lazy<RwLock<Option<Arc<Sink>>>> = Lazy::new(|| RwLock::new(None));
static ENV: Lazy<()> = Lazy::new(|| {
    if let Ok(v) = std::env::var("WRS_LOG") {
        let (level, areas) = v.split_once(':').unwrap_or((&v, ""));
        if let Some(level) = Level::parse(level) {
            let mask = areas
                .split(',')
                .filter_map(|a| Area::ALL.iter().find(|x| x.name() == a.trim().to_ascii_lowercase()))
                .fold(0u32, |m, a| m | 1 << *a as u8);
            AREAS.store(if mask == 0 { u32::MAX } else { mask }, Ordering::Relaxed);
            set_sink(Some(Arc::new(stderr_sink)), level);
        }
    }
});

fn stderr_sink(level: Level, area: Area, message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "webrtc-session {} {}: {}", level.name(), area.name(), message);
}

/// Reads `WRS_LOG` once (sessions and contexts call it when they are made).
pub fn init_from_env() {
    Lazy::force(&ENV);
}

/// Sets the process-wide sink and its most verbose level (None: logging off).
pub fn set_sink(sink: Option<Arc<Sink>>, max: Level) {
    let on = sink.is_some();
    *SINK.write() = sink;
    MAX.store(if on { max as u8 } else { 0 }, Ordering::Release);
    log::set_max_level(if on { facade_level(max) } else { log::LevelFilter::Off });
    if on {
        // Fails when the process has a `log` logger already: then it keeps theirs.
        let _ = log::set_logger(&BRIDGE);
    }
}

#[inline]
pub fn enabled(level: Level, area: Area) -> bool {
    level as u8 <= MAX.load(Ordering::Relaxed) && AREAS.load(Ordering::Relaxed) & (1 << area as u8) != 0
}

/// Formats and hands one message to the sink (the sink runs without the library's lock, so it
/// may call the library, even to change the sink).
pub fn write(level: Level, area: Area, args: fmt::Arguments<'_>) {
    let sink = SINK.read().clone();
    if let Some(sink) = sink {
        let message = args.to_string();
        sink(level, area, &message);
    }
}

/// `wlog!(Level, Area, "format", args...)`: logs when that level and area are enabled.
#[macro_export]
macro_rules! wlog {
    ($level:ident, $area:ident, $($arg:tt)*) => {
        if $crate::logging::enabled($crate::logging::Level::$level, $crate::logging::Area::$area) {
            $crate::logging::write($crate::logging::Level::$level, $crate::logging::Area::$area, format_args!($($arg)*))
        }
    };
}

fn facade_level(l: Level) -> log::LevelFilter {
    match l {
        Level::Error => log::LevelFilter::Error,
        Level::Warn => log::LevelFilter::Warn,
        Level::Info => log::LevelFilter::Info,
        Level::Debug => log::LevelFilter::Debug,
        Level::Trace => log::LevelFilter::Trace,
    }
}

/// The `log` facade's records from the crates underneath, by their module path.
struct Bridge;
static BRIDGE: Bridge = Bridge;

fn area_of(target: &str) -> Area {
    if target.starts_with("webrtc_ice") || target.starts_with("stun") || target.starts_with("turn") {
        Area::Ice
    } else if target.starts_with("sctp_proto") {
        Area::Sctp
    } else if target.starts_with("webrtc_srtp") {
        Area::Srtp
    } else {
        Area::Session
    }
}

/// The crates' levels, lowered: their warnings and infos include normal operation (webrtc-ice
/// warns that no pair exists yet at the start of every call, and about closing candidates at
/// its end), so they are detail (DEBUG) here; their errors are warnings. The library's own
/// messages say what went wrong at WARN.
fn level_of(l: log::Level) -> Level {
    match l {
        log::Level::Error => Level::Warn,
        log::Level::Warn | log::Level::Info | log::Level::Debug => Level::Debug,
        log::Level::Trace => Level::Trace,
    }
}

impl log::Log for Bridge {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        enabled(level_of(m.level()), area_of(m.target()))
    }

    fn log(&self, r: &log::Record<'_>) {
        let (level, area) = (level_of(r.level()), area_of(r.target()));
        if enabled(level, area) {
            write(level, area, format_args!("{}", r.args()));
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_areas_parse_and_map() {
        assert_eq!(Level::parse(" Debug "), Some(Level::Debug));
        assert_eq!(Level::parse("loud"), None);
        assert_eq!(Level::from_u32(5), Some(Level::Trace));
        assert_eq!(Level::from_u32(0), None);
        assert_eq!(area_of("webrtc_ice::agent::agent_internal"), Area::Ice);
        assert_eq!(area_of("sctp_proto::association"), Area::Sctp);
        assert_eq!(area_of("tokio"), Area::Session);
        assert_eq!(level_of(log::Level::Warn), Level::Debug);
        assert_eq!(level_of(log::Level::Error), Level::Warn);
    }
}
