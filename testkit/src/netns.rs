//! A host of its own for a test: a network namespace joined to this one by a veth pair, so a
//! link can be cut (a partition: the process goes on, unreachable) and healed. Needs root.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static HOSTS: AtomicU32 = AtomicU32::new(0);

/// A namespace with one veth pair: this side `host_ip`, the namespace's side `ip`, on a /30.
pub struct Host {
    pub name: String,
    /// The veth end on the test's side.
    outer: String,
    /// The address of the test's side, reachable from inside the namespace.
    pub host_ip: String,
    /// The address inside the namespace.
    pub ip: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip").args(args).output().map_err(|error| format!("ip: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
    }
}

impl Host {
    /// A new namespace; `None` (the reason printed) where that is not permitted — never in CI,
    /// where it panics instead.
    pub fn new() -> Option<Host> {
        // Unique per process and per host, in a range loopback tests never use.
        let n = (std::process::id() % 200) * 64 + HOSTS.fetch_add(1, Ordering::Relaxed) % 64;
        let (high, low) = (n / 64 % 200, n % 64 * 4);
        let host = Host {
            name: format!("sb-{}-{n}", std::process::id()),
            outer: format!("sbh{n}"),
            host_ip: format!("10.213.{high}.{}", low + 1),
            ip: format!("10.213.{high}.{}", low + 2),
        };
        let inner = format!("sbn{n}");
        let made = ip(&["netns", "add", &host.name])
            .and_then(|()| {
                ip(&["link", "add", &host.outer, "type", "veth", "peer", "name", &inner])
            })
            .and_then(|()| ip(&["link", "set", &inner, "netns", &host.name]))
            .and_then(|()| {
                ip(&["addr", "add", &format!("{}/30", host.host_ip), "dev", &host.outer])
            })
            .and_then(|()| ip(&["link", "set", &host.outer, "up"]))
            .and_then(|()| host.inside(&["addr", "add", &format!("{}/30", host.ip), "dev", &inner]))
            .and_then(|()| host.inside(&["link", "set", &inner, "up"]))
            .and_then(|()| host.inside(&["link", "set", "lo", "up"]));
        match made {
            Ok(()) => Some(host),
            Err(why) => {
                drop(host);
                assert!(std::env::var_os("CI").is_none(), "no network namespace: {why}");
                eprintln!("skipped: no network namespace here ({why})");
                None
            }
        }
    }

    fn inside(&self, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Cuts the link: nothing gets in or out; the processes inside go on.
    pub fn cut(&self) {
        ip(&["link", "set", &self.outer, "down"]).expect("cut the link");
    }

    /// Heals the link.
    pub fn heal(&self) {
        ip(&["link", "set", &self.outer, "up"]).expect("heal the link");
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // Deleting the namespace deletes its veth end, and with it the pair.
        let _ = ip(&["link", "del", &self.outer]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}
