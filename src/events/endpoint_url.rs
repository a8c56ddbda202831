//! Where a webhook may be sent. An API client names the URL, and Passerelle calls it from inside
//! the operator's network, so the URL is checked twice: when the endpoint is registered, and at
//! every delivery against the addresses the name resolves to then (a name may be re-pointed),
//! the request going to the address checked, not to a second lookup.
//!
//! Allowed: `https`, or `http` on a loopback address (the demo and the tests); loopback and
//! public addresses. Refused: private and link-local ranges (unless the operator allows them),
//! and addresses no one should send to (unspecified, multicast, broadcast).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use url::Url;

/// Why a URL may not receive webhooks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointUrlError {
    /// Not an absolute URL.
    #[error("not an absolute URL")]
    Unparsable,
    /// Neither https nor loopback http.
    #[error("must be https (or http on a loopback address)")]
    Scheme,
    /// Credentials or a fragment in the URL.
    #[error("must not carry credentials or a fragment")]
    Shape,
    /// The host does not resolve.
    #[error("the host does not resolve")]
    Unresolvable,
    /// The host resolves to an address Passerelle does not send to.
    #[error("the host resolves to {0}, a private, link-local or reserved address")]
    Forbidden(IpAddr),
}

/// Whether Passerelle may send to `ip`.
pub fn address_allowed(ip: IpAddr, allow_private: bool) -> bool {
    if ip.is_loopback() {
        return true;
    }
    if ip.is_unspecified() || ip.is_multicast() {
        return false;
    }
    let private = match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_broadcast() {
                return false;
            }
            // RFC 1918, link-local, and the shared address space of carrier NAT (RFC 6598).
            v4.is_private() || v4.is_link_local() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            // Unique local fc00::/7, link-local fe80::/10, and IPv4-mapped private addresses.
            (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| !address_allowed(IpAddr::V4(v4), allow_private))
        }
    };
    !private || allow_private
}

/// Parses and checks the URL's shape (not its addresses: see [`resolve`]).
pub fn parse(candidate: &str) -> Result<Url, EndpointUrlError> {
    let url = Url::parse(candidate).map_err(|_| EndpointUrlError::Unparsable)?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(EndpointUrlError::Shape);
    }
    let host = url.host().ok_or(EndpointUrlError::Unparsable)?;
    let loopback = match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(EndpointUrlError::Scheme),
    }
}

/// Resolves the URL's host (a blocking lookup) and returns the first address, after checking
/// that every address it resolves to is allowed.
pub fn resolve(url: &Url, allow_private: bool) -> Result<SocketAddr, EndpointUrlError> {
    let port = url
        .port_or_known_default()
        .ok_or(EndpointUrlError::Unparsable)?;
    let host = url.host_str().ok_or(EndpointUrlError::Unparsable)?;
    // `Url` keeps IPv6 literals bracketed.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|_| EndpointUrlError::Unresolvable)?
        .collect();
    if let Some(bad) = addresses
        .iter()
        .find(|a| !address_allowed(a.ip(), allow_private))
    {
        return Err(EndpointUrlError::Forbidden(bad.ip()));
    }
    addresses
        .into_iter()
        .next()
        .ok_or(EndpointUrlError::Unresolvable)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_public_and_http_only_on_loopback() {
        assert!(parse("https://app.example/hooks").is_ok());
        assert!(parse("http://127.0.0.1:8080/hooks").is_ok());
        assert!(parse("http://[::1]:8080/hooks").is_ok());
        assert!(parse("http://localhost:8080/hooks").is_ok());
        assert_eq!(
            parse("http://app.example/hooks"),
            Err(EndpointUrlError::Scheme)
        );
        assert_eq!(parse("ftp://app.example/"), Err(EndpointUrlError::Scheme));
        assert_eq!(
            parse("https://user:pw@app.example/"),
            Err(EndpointUrlError::Shape)
        );
        assert_eq!(parse("/relative"), Err(EndpointUrlError::Unparsable));
    }

    #[test]
    fn private_link_local_and_reserved_addresses_are_refused() {
        for refused in [
            "10.0.0.1",
            "172.16.3.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "fc00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::",
        ] {
            let ip: IpAddr = refused.parse().unwrap();
            assert!(!address_allowed(ip, false), "{refused}");
        }
        for allowed in ["127.0.0.1", "::1", "93.184.216.34", "2001:4860::8888"] {
            let ip: IpAddr = allowed.parse().unwrap();
            assert!(address_allowed(ip, false), "{allowed}");
        }
        // The operator may open private ranges, never the reserved ones.
        assert!(address_allowed("10.0.0.1".parse().unwrap(), true));
        assert!(!address_allowed("0.0.0.0".parse().unwrap(), true));
    }

    #[test]
    fn a_literal_private_address_is_refused_at_resolution() {
        let url = parse("https://169.254.169.254/latest").unwrap();
        assert_eq!(
            resolve(&url, false),
            Err(EndpointUrlError::Forbidden(
                "169.254.169.254".parse().unwrap()
            ))
        );
        let url = parse("http://127.0.0.1:9/hook").unwrap();
        assert_eq!(resolve(&url, false).unwrap().port(), 9);
    }
}
