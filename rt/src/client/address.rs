//! Where a channel's connections go: resolved addresses, and the target
//! URIs naming them (`dns:///host:port`, `http://host:port`, `ipv4:a,b`,
//! `unix:/path`).

use std::net::SocketAddr;

use weir_core::grpc::{Code, Status};

/// One address a channel can connect to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// A TCP socket address.
    Tcp(SocketAddr),
    /// A Unix domain socket path.
    #[cfg(unix)]
    Unix(std::path::PathBuf),
}

impl From<SocketAddr> for Address {
    fn from(a: SocketAddr) -> Self {
        Address::Tcp(a)
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Tcp(a) => write!(f, "{a}"),
            #[cfg(unix)]
            Address::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// How a target names its addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Naming {
    /// A host name (or IP literal) resolved through the runtime, again and again.
    Dns { host: String, port: u16 },
    /// A fixed list.
    Static(Vec<Address>),
}

/// A parsed target URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParsedTarget {
    pub naming: Naming,
    /// The default `:authority`.
    pub authority: String,
    /// The host TLS verifies by default.
    pub tls_host: String,
    pub tls: bool,
}

/// Parses `http://host[:port]`, `https://...`, `host:port`,
/// `dns:[//authority]/host[:port]`, `ipv4:addr:port[,...]`,
/// `ipv6:[addr]:port[,...]` and `unix:path` (also `unix:///abs/path`).
pub(crate) fn parse_target(uri: &str) -> Result<ParsedTarget, Status> {
    let bad = || Status::new(Code::InvalidArgument, format!("invalid endpoint URI {uri:?}"));
    if let Some(path) = uri.strip_prefix("unix:") {
        #[cfg(unix)]
        {
            let path = path.trim_start_matches("//");
            if path.is_empty() {
                return Err(bad());
            }
            let naming = Naming::Static(vec![Address::Unix(path.into())]);
            return Ok(ParsedTarget {
                naming,
                authority: "localhost".into(),
                tls_host: "localhost".into(),
                tls: false,
            });
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            return Err(bad());
        }
    }
    if let Some(list) = uri.strip_prefix("ipv4:").or_else(|| uri.strip_prefix("ipv6:")) {
        let addrs = list
            .split(',')
            .map(|a| a.trim().parse::<SocketAddr>().map(Address::Tcp).map_err(|_| bad()))
            .collect::<Result<Vec<_>, _>>()?;
        let first = list.split(',').next().unwrap_or_default().trim().to_owned();
        let host = match addrs.first() {
            Some(Address::Tcp(a)) => a.ip().to_string(),
            _ => return Err(bad()),
        };
        return Ok(ParsedTarget {
            naming: Naming::Static(addrs),
            authority: first,
            tls_host: host,
            tls: false,
        });
    }
    let (tls, rest, default_port) = if let Some(r) = uri.strip_prefix("https://") {
        (true, r, 443)
    } else if let Some(r) = uri.strip_prefix("http://") {
        (false, r, 80)
    } else if let Some(r) = uri.strip_prefix("dns:") {
        // dns:[//dns-server/]host[:port]: the DNS server part is not used
        // (the runtime's resolver is).
        let r = match r.strip_prefix("//") {
            Some(with_authority) => with_authority.split_once('/').ok_or_else(bad)?.1,
            None => r,
        };
        (false, r, 443)
    } else {
        (false, uri, 80)
    };
    let authority = rest.trim_end_matches('/').to_owned();
    let (host, port) = split_host_port(&authority, default_port).ok_or_else(bad)?;
    let naming = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => Naming::Static(vec![Address::Tcp(SocketAddr::new(ip, port))]),
        Err(_) => Naming::Dns { host: host.clone(), port },
    };
    Ok(ParsedTarget { naming, authority, tls_host: host, tls })
}

/// `host:port`, `[v6]:port`, or a host alone with the default port.
fn split_host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().ok()?),
            None => (authority, default_port),
        }
    };
    if host.is_empty() || host.contains('/') {
        return None;
    }
    Some((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(s: &str) -> Address {
        Address::Tcp(s.parse().unwrap())
    }

    #[test]
    fn schemes() {
        let t = parse_target("dns:///example.com:50051").unwrap();
        assert_eq!(t.naming, Naming::Dns { host: "example.com".into(), port: 50051 });
        assert_eq!((t.authority.as_str(), t.tls), ("example.com:50051", false));
        let t = parse_target("dns://8.8.8.8/svc.local:9").unwrap();
        assert_eq!(t.naming, Naming::Dns { host: "svc.local".into(), port: 9 });
        let t = parse_target("https://localhost:8443/").unwrap();
        assert_eq!((t.tls, t.tls_host.as_str(), t.authority.as_str()), (true, "localhost", "localhost:8443"));
        let t = parse_target("http://127.0.0.1:80").unwrap();
        assert_eq!(t.naming, Naming::Static(vec![tcp("127.0.0.1:80")]));
        let t = parse_target("http://[::1]:7").unwrap();
        assert_eq!(t.naming, Naming::Static(vec![tcp("[::1]:7")]));
        let t = parse_target("ipv4:127.0.0.1:1,127.0.0.1:2").unwrap();
        assert_eq!(t.naming, Naming::Static(vec![tcp("127.0.0.1:1"), tcp("127.0.0.1:2")]));
        assert_eq!(t.authority, "127.0.0.1:1");
        let t = parse_target("example.org").unwrap();
        assert_eq!(t.naming, Naming::Dns { host: "example.org".into(), port: 80 });
        #[cfg(unix)]
        {
            let t = parse_target("unix:///tmp/x.sock").unwrap();
            assert_eq!(t.naming, Naming::Static(vec![Address::Unix("/tmp/x.sock".into())]));
        }
    }

    #[test]
    fn rejects_malformed_targets() {
        for bad in
            ["http://:80", "http://h:notaport", "ipv4:1.2.3.4", "ipv4:", "dns://nohost", "[::1:5", "unix:"]
        {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }
}
