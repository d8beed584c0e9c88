//! Which requests the dashboard answers at all: the `Host` check against
//! DNS rebinding, and the read-only rule (GET and HEAD only).
//!
//! DNS rebinding: a page on `evil.example` makes its name resolve to
//! 127.0.0.1 and reads the dashboard as its own origin. The browser then
//! sends `Host: evil.example:8787`, so the server refuses every request
//! whose `Host` is not the address it serves. IP literals and `localhost`
//! cannot be rebound.

use std::net::{IpAddr, SocketAddr};

/// The `Host` values the dashboard answers to.
#[derive(Clone, Debug)]
pub struct HostRule {
    addr: SocketAddr,
}

impl HostRule {
    /// The rule for a listener bound to `addr` (its real port, after
    /// binding port 0).
    pub fn new(addr: SocketAddr) -> HostRule {
        HostRule { addr }
    }

    /// Does a request with this `Host` header come to us?
    ///
    /// - the port must be the served one (absent only when it is 80);
    /// - the name must be the bound IP, or `localhost` when the bound IP is
    ///   loopback; bound to an unspecified address (`0.0.0.0`, `::`), any IP
    ///   literal is the address served (a rebinding attack needs a name).
    pub fn allows(&self, host: Option<&str>) -> bool {
        let Some((name, port)) = host.and_then(split_host) else {
            return false;
        };
        if port.unwrap_or(80) != self.addr.port() {
            return false;
        }
        let bound = self.addr.ip();
        if name.eq_ignore_ascii_case("localhost") {
            return bound.is_loopback() || bound.is_unspecified();
        }
        match name.parse::<IpAddr>() {
            Ok(ip) => bound.is_unspecified() || same_ip(ip, bound),
            Err(_) => false,
        }
    }
}

/// 127.0.0.1 and ::ffff:127.0.0.1 are one address.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// `name[:port]` or `[v6][:port]`; None when malformed.
fn split_host(h: &str) -> Option<(&str, Option<u16>)> {
    let h = h.trim();
    if let Some(rest) = h.strip_prefix('[') {
        let (name, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        return Some((name, port));
    }
    match h.rsplit_once(':') {
        // A bare IPv6 address has several colons and no port.
        Some((name, _)) if name.contains(':') => None,
        Some((name, port)) => Some((name, Some(port.parse().ok()?))),
        None => Some((h, None)),
    }
    .filter(|(name, _)| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(addr: &str) -> HostRule {
        HostRule::new(addr.parse().expect("socket address"))
    }

    #[test]
    fn loopback_answers_to_its_address_and_localhost_only() {
        let r = rule("127.0.0.1:8787");
        for ok in ["127.0.0.1:8787", "localhost:8787", "LOCALHOST:8787"] {
            assert!(r.allows(Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example:8787",
            "127.0.0.1:8788",
            "127.0.0.1",
            "localhost",
            "127.0.0.2:8787",
            "127.0.0.1.evil.example:8787",
            "",
            ":8787",
            "127.0.0.1:notaport",
            "[::1]:8787x",
        ] {
            assert!(!r.allows(Some(bad)), "{bad}");
        }
        assert!(!r.allows(None), "no Host header");
    }

    #[test]
    fn ipv6_and_unspecified_binds() {
        let v6 = rule("[::1]:9000");
        assert!(v6.allows(Some("[::1]:9000")));
        assert!(v6.allows(Some("localhost:9000")));
        assert!(!v6.allows(Some("::1")));
        assert!(!v6.allows(Some("[::2]:9000")));
        let any = rule("0.0.0.0:80");
        assert!(any.allows(Some("192.168.1.5")));
        assert!(any.allows(Some("10.0.0.1:80")));
        assert!(!any.allows(Some("box.lan")), "a name can be rebound");
        let lan = rule("192.168.1.5:8787");
        assert!(lan.allows(Some("192.168.1.5:8787")));
        assert!(!lan.allows(Some("localhost:8787")));
    }
}
