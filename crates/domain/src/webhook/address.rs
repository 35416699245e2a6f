//! Which IP addresses a webhook may reach: globally reachable ones only.
//!
//! One classification, [`refusal`], serves both the API (a literal host,
//! when a webhook is written) and the delivery adapter (every address a
//! name resolves to, when it connects). It follows the IANA IPv4 and IPv6
//! Special-Purpose Address Registries (RFC 6890 and the RFCs that added
//! blocks since, up to RFC 9637, 9602 and 9780), plus the two multicast
//! spaces and the IPv6 space outside `2000::/3`:
//!
//! - a block the registry marks *not globally reachable* is refused;
//! - a block it marks globally reachable inside a refused one
//!   (`192.0.0.9/32`, `2001:3::/32`, ...) is allowed;
//! - a block whose reachability is *N/A* is refused (Teredo `2001::/32`,
//!   the deprecated `192.88.99.0/24` and `2001:10::/28`), except 6to4,
//!   which is judged by the IPv4 address it carries;
//! - IPv6 forms that carry an IPv4 address are judged by that address:
//!   IPv4-mapped `::ffff:0:0/96` (a socket sends to the IPv4 address
//!   itself), the NAT64 well-known prefix `64:ff9b::/96` and 6to4
//!   `2002::/16`. The local-use NAT64 prefix `64:ff9b:1::/48`, the
//!   deprecated IPv4-compatible `::/96` and Teredo are refused whole,
//!   whatever they carry;
//! - multicast (`224.0.0.0/4`, `ff00::/8`) and IPv6 outside the global
//!   unicast space `2000::/3` (IANA's "Reserved by IETF" blocks) are
//!   refused.
//!
//! The most specific block containing an address decides.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// How the guard treats the addresses of a [`Block`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Not globally reachable (or reachability not applicable): refused.
    Refused,
    /// Globally reachable: allowed.
    Global,
    /// Carries an IPv4 address, which decides.
    Embeds(Embedding),
}

/// Where an IPv6 address carries an IPv4 one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Embedding {
    /// The last 32 bits (IPv4-mapped, NAT64 `64:ff9b::/96`).
    Low32,
    /// Bits 16 to 47 (6to4 `2002:V4ADDR::/48`).
    SixToFour,
}

impl Embedding {
    /// The IPv4 address `ip` carries.
    #[must_use]
    pub fn extract(self, ip: Ipv6Addr) -> Ipv4Addr {
        let o = ip.octets();
        match self {
            Self::Low32 => Ipv4Addr::new(o[12], o[13], o[14], o[15]),
            Self::SixToFour => Ipv4Addr::new(o[2], o[3], o[4], o[5]),
        }
    }
}

/// An address block of a registry with the guard's treatment of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// The first address.
    pub network: IpAddr,
    /// The prefix length.
    pub prefix: u8,
    /// The registry's name for it.
    pub name: &'static str,
    /// How its addresses are treated.
    pub reach: Reach,
}

impl Block {
    const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8, name: &'static str, reach: Reach) -> Self {
        Self {
            network: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix,
            name,
            reach,
        }
    }

    const fn v6(segments: [u16; 8], prefix: u8, name: &'static str, reach: Reach) -> Self {
        let [a, b, c, d, e, f, g, h] = segments;
        Self {
            network: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
            prefix,
            name,
            reach,
        }
    }

    /// Whether `ip` is in the block (never across address families).
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// The last address of the block.
    #[must_use]
    pub fn last(&self) -> IpAddr {
        match self.network {
            IpAddr::V4(net) => {
                let host = u32::MAX.checked_shr(u32::from(self.prefix)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(net) | host))
            }
            IpAddr::V6(net) => {
                let host = u128::MAX.checked_shr(u32::from(self.prefix)).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(net) | host))
            }
        }
    }
}

impl fmt::Display for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} ({})", self.network, self.prefix, self.name)
    }
}

use Reach::{Embeds, Global, Refused};

/// The IPv4 blocks: the IANA IPv4 Special-Purpose Address Registry, and
/// multicast.
pub const IPV4_BLOCKS: &[Block] = &[
    Block::v4(0, 0, 0, 0, 8, "\"This network\"", Refused),
    Block::v4(0, 0, 0, 0, 32, "\"This host on this network\"", Refused),
    Block::v4(10, 0, 0, 0, 8, "Private-Use", Refused),
    Block::v4(100, 64, 0, 0, 10, "Shared Address Space", Refused),
    Block::v4(127, 0, 0, 0, 8, "Loopback", Refused),
    Block::v4(169, 254, 0, 0, 16, "Link Local", Refused),
    Block::v4(172, 16, 0, 0, 12, "Private-Use", Refused),
    Block::v4(192, 0, 0, 0, 24, "IETF Protocol Assignments", Refused),
    Block::v4(192, 0, 0, 0, 29, "IPv4 Service Continuity Prefix", Refused),
    Block::v4(192, 0, 0, 8, 32, "IPv4 dummy address", Refused),
    Block::v4(192, 0, 0, 9, 32, "Port Control Protocol Anycast", Global),
    Block::v4(
        192,
        0,
        0,
        10,
        32,
        "Traversal Using Relays around NAT Anycast",
        Global,
    ),
    Block::v4(192, 0, 0, 170, 32, "NAT64/DNS64 Discovery", Refused),
    Block::v4(192, 0, 0, 171, 32, "NAT64/DNS64 Discovery", Refused),
    Block::v4(192, 0, 2, 0, 24, "Documentation (TEST-NET-1)", Refused),
    Block::v4(192, 31, 196, 0, 24, "AS112-v4", Global),
    Block::v4(192, 52, 193, 0, 24, "AMT", Global),
    Block::v4(
        192,
        88,
        99,
        0,
        24,
        "Deprecated (6to4 Relay Anycast)",
        Refused,
    ),
    Block::v4(192, 168, 0, 0, 16, "Private-Use", Refused),
    Block::v4(
        192,
        175,
        48,
        0,
        24,
        "Direct Delegation AS112 Service",
        Global,
    ),
    Block::v4(198, 18, 0, 0, 15, "Benchmarking", Refused),
    Block::v4(198, 51, 100, 0, 24, "Documentation (TEST-NET-2)", Refused),
    Block::v4(203, 0, 113, 0, 24, "Documentation (TEST-NET-3)", Refused),
    Block::v4(224, 0, 0, 0, 4, "Multicast", Refused),
    Block::v4(240, 0, 0, 0, 4, "Reserved", Refused),
    Block::v4(255, 255, 255, 255, 32, "Limited Broadcast", Refused),
];

/// The IPv6 blocks: the IANA IPv6 Special-Purpose Address Registry,
/// multicast, and the space outside global unicast `2000::/3`.
pub const IPV6_BLOCKS: &[Block] = &[
    // The complement of 2000::/3: IANA's "Reserved by IETF" blocks, ULA,
    // link-local and multicast, where the registry has nothing more specific.
    Block::v6(
        [0, 0, 0, 0, 0, 0, 0, 0],
        3,
        "Reserved by IETF (outside 2000::/3)",
        Refused,
    ),
    Block::v6(
        [0x4000, 0, 0, 0, 0, 0, 0, 0],
        2,
        "Reserved by IETF (outside 2000::/3)",
        Refused,
    ),
    Block::v6(
        [0x8000, 0, 0, 0, 0, 0, 0, 0],
        1,
        "Reserved by IETF (outside 2000::/3)",
        Refused,
    ),
    Block::v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "Loopback Address", Refused),
    Block::v6(
        [0, 0, 0, 0, 0, 0, 0, 0],
        128,
        "Unspecified Address",
        Refused,
    ),
    Block::v6(
        [0, 0, 0, 0, 0, 0, 0, 0],
        96,
        "IPv4-compatible (deprecated)",
        Refused,
    ),
    Block::v6(
        [0, 0, 0, 0, 0, 0xffff, 0, 0],
        96,
        "IPv4-mapped Address",
        Embeds(Embedding::Low32),
    ),
    Block::v6(
        [0x64, 0xff9b, 0, 0, 0, 0, 0, 0],
        96,
        "IPv4-IPv6 Translat.",
        Embeds(Embedding::Low32),
    ),
    Block::v6(
        [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
        48,
        "IPv4-IPv6 Translat. (local use)",
        Refused,
    ),
    Block::v6(
        [0x100, 0, 0, 0, 0, 0, 0, 0],
        64,
        "Discard-Only Address Block",
        Refused,
    ),
    Block::v6(
        [0x100, 0, 0, 1, 0, 0, 0, 0],
        64,
        "Dummy IPv6 Prefix",
        Refused,
    ),
    Block::v6(
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        "IETF Protocol Assignments",
        Refused,
    ),
    Block::v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "TEREDO", Refused),
    Block::v6(
        [0x2001, 1, 0, 0, 0, 0, 0, 1],
        128,
        "Port Control Protocol Anycast",
        Global,
    ),
    Block::v6(
        [0x2001, 1, 0, 0, 0, 0, 0, 2],
        128,
        "Traversal Using Relays around NAT Anycast",
        Global,
    ),
    Block::v6(
        [0x2001, 1, 0, 0, 0, 0, 0, 3],
        128,
        "DNS-SD Service Registration Protocol Anycast",
        Global,
    ),
    Block::v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, "Benchmarking", Refused),
    Block::v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32, "AMT", Global),
    Block::v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48, "AS112-v6", Global),
    Block::v6(
        [0x2001, 0x10, 0, 0, 0, 0, 0, 0],
        28,
        "Deprecated (previously ORCHID)",
        Refused,
    ),
    Block::v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, "ORCHIDv2", Global),
    Block::v6(
        [0x2001, 0x30, 0, 0, 0, 0, 0, 0],
        28,
        "Drone Remote ID Protocol Entity Tags (DETs) Prefix",
        Global,
    ),
    Block::v6(
        [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
        32,
        "Documentation",
        Refused,
    ),
    Block::v6(
        [0x2002, 0, 0, 0, 0, 0, 0, 0],
        16,
        "6to4",
        Embeds(Embedding::SixToFour),
    ),
    Block::v6(
        [0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0],
        48,
        "Direct Delegation AS112 Service",
        Global,
    ),
    Block::v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "Documentation", Refused),
    Block::v6(
        [0x5f00, 0, 0, 0, 0, 0, 0, 0],
        16,
        "Segment Routing (SRv6) SIDs",
        Refused,
    ),
    Block::v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "Unique-Local", Refused),
    Block::v6(
        [0xfe80, 0, 0, 0, 0, 0, 0, 0],
        10,
        "Link-Local Unicast",
        Refused,
    ),
    Block::v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "Multicast", Refused),
];

/// The most specific block of the tables containing `ip`, if any.
#[must_use]
pub fn block_of(ip: IpAddr) -> Option<&'static Block> {
    let table = match ip {
        IpAddr::V4(_) => IPV4_BLOCKS,
        IpAddr::V6(_) => IPV6_BLOCKS,
    };
    table
        .iter()
        .filter(|block| block.contains(ip))
        .max_by_key(|block| block.prefix)
}

/// Why an address may not be a webhook's target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The address refused.
    pub address: IpAddr,
    /// The block that refuses it (for an IPv6 form carrying an IPv4
    /// address, the carrying block).
    pub block: &'static Block,
    /// For a carried IPv4 address: that address and the block refusing it.
    pub carried: Option<(Ipv4Addr, &'static Block)>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not a globally reachable address: {}",
            self.address, self.block
        )?;
        if let Some((v4, block)) = &self.carried {
            write!(f, " carrying {v4}, in {block}")?;
        }
        Ok(())
    }
}

/// Why `ip` is refused as a webhook target, or `None` when it is globally
/// reachable (see the module documentation for the rules).
#[must_use]
pub fn refusal(ip: IpAddr) -> Option<Refusal> {
    let block = block_of(ip)?;
    match (block.reach, ip) {
        (Global, _) => None,
        (Refused, _) => Some(Refusal {
            address: ip,
            block,
            carried: None,
        }),
        (Embeds(embedding), IpAddr::V6(v6)) => {
            let v4 = embedding.extract(v6);
            let inner = refusal(IpAddr::V4(v4))?;
            Some(Refusal {
                address: ip,
                block,
                carried: Some((v4, inner.block)),
            })
        }
        // No IPv4 block carries another address: refused if one ever says so.
        (Embeds(_), IpAddr::V4(_)) => Some(Refusal {
            address: ip,
            block,
            carried: None,
        }),
    }
}

/// Whether a webhook may reach `ip`: [`refusal`] finds nothing.
#[must_use]
pub fn is_globally_reachable(ip: IpAddr) -> bool {
    refusal(ip).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse()
            .unwrap_or_else(|_| panic!("{text} is an address"))
    }

    /// `true`: refused. The first and last address of every block of both
    /// registries (and of multicast and the reserved IPv6 space), written
    /// out by hand rather than computed from the tables.
    const FIRST_AND_LAST: &[(&str, bool)] = &[
        ("0.0.0.0", true),
        ("0.255.255.255", true),
        ("10.0.0.0", true),
        ("10.255.255.255", true),
        ("100.64.0.0", true),
        ("100.127.255.255", true),
        ("127.0.0.0", true),
        ("127.255.255.255", true),
        ("169.254.0.0", true),
        ("169.254.255.255", true),
        ("172.16.0.0", true),
        ("172.31.255.255", true),
        ("192.0.0.0", true),
        ("192.0.0.255", true),
        ("192.0.0.7", true),
        ("192.0.0.8", true),
        ("192.0.0.9", false),
        ("192.0.0.10", false),
        ("192.0.0.11", true),
        ("192.0.0.170", true),
        ("192.0.0.171", true),
        ("192.0.2.0", true),
        ("192.0.2.255", true),
        ("192.31.196.0", false),
        ("192.31.196.255", false),
        ("192.52.193.0", false),
        ("192.52.193.255", false),
        ("192.88.99.0", true),
        ("192.88.99.255", true),
        ("192.168.0.0", true),
        ("192.168.255.255", true),
        ("192.175.48.0", false),
        ("192.175.48.255", false),
        ("198.18.0.0", true),
        ("198.19.255.255", true),
        ("198.51.100.0", true),
        ("198.51.100.255", true),
        ("203.0.113.0", true),
        ("203.0.113.255", true),
        ("224.0.0.0", true),
        ("239.255.255.255", true),
        ("240.0.0.0", true),
        ("255.255.255.254", true),
        ("255.255.255.255", true),
        ("::", true),
        ("::1", true),
        ("::2", true),
        ("::ffff:ffff", true),
        ("::ffff:0.0.0.0", true),
        ("::ffff:255.255.255.255", true),
        ("64:ff9b::", true),
        ("64:ff9b::ffff:ffff", true),
        ("64:ff9b:1::", true),
        ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", true),
        ("100::", true),
        ("100::ffff:ffff:ffff:ffff", true),
        ("100:0:0:1::", true),
        ("100::1:ffff:ffff:ffff:ffff", true),
        ("2001::", true),
        ("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("2001:1::1", false),
        ("2001:1::2", false),
        ("2001:1::3", false),
        ("2001:1::4", true),
        ("2001:2::", true),
        ("2001:2:0:ffff:ffff:ffff:ffff:ffff", true),
        ("2001:3::", false),
        ("2001:3:ffff:ffff:ffff:ffff:ffff:ffff", false),
        ("2001:4:112::", false),
        ("2001:4:112:ffff:ffff:ffff:ffff:ffff", false),
        ("2001:4:113::", true),
        ("2001:10::", true),
        ("2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("2001:20::", false),
        ("2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", false),
        ("2001:30::", false),
        ("2001:3f:ffff:ffff:ffff:ffff:ffff:ffff", false),
        ("2001:db8::", true),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("2002::", true),
        ("2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("2620:4f:8000::", false),
        ("2620:4f:8000:ffff:ffff:ffff:ffff:ffff", false),
        ("3fff::", true),
        ("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("5f00::", true),
        ("5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("fc00::", true),
        ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("fe80::", true),
        ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("ff00::", true),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("4000::", true),
        ("7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("8000::", true),
        ("fec0::1", true),
    ];

    /// Just outside the refused blocks, and ordinary public addresses.
    const PUBLIC: &[&str] = &[
        "1.0.0.0",
        "8.8.8.8",
        "9.255.255.255",
        "11.0.0.0",
        "93.184.216.34",
        "100.63.255.255",
        "100.128.0.0",
        "126.255.255.255",
        "128.0.0.0",
        "169.253.255.255",
        "169.255.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "191.255.255.255",
        "192.0.1.0",
        "192.0.3.0",
        "192.88.98.255",
        "192.88.100.0",
        "192.167.255.255",
        "192.169.0.0",
        "198.17.255.255",
        "198.20.0.0",
        "198.51.99.255",
        "198.51.101.0",
        "203.0.112.255",
        "203.0.114.0",
        "223.255.255.255",
        "2000::",
        "2001:200::",
        "2001:4860:4860::8888",
        "2003::",
        "2606:4700::1111",
        "2620:4f:7fff:ffff:ffff:ffff:ffff:ffff",
        "2620:4f:8001::",
        "3fff:1000::",
        "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ];

    #[test]
    fn the_first_and_last_address_of_every_block_are_judged_as_the_registries_say() {
        for (text, refused) in FIRST_AND_LAST {
            assert_eq!(refusal(ip(text)).is_some(), *refused, "{text}");
        }
        for text in PUBLIC {
            assert_eq!(refusal(ip(text)), None, "{text}");
        }
    }

    #[test]
    fn every_block_of_the_tables_is_covered_by_the_hand_written_cases() {
        let listed: Vec<IpAddr> = FIRST_AND_LAST.iter().map(|(t, _)| ip(t)).collect();
        for block in IPV4_BLOCKS.iter().chain(IPV6_BLOCKS) {
            for end in [block.network, block.last()] {
                assert!(listed.contains(&end), "{end} of {block} has no case");
            }
            // Where the block itself decides (nothing more specific), it decides as it says.
            for end in [block.network, block.last()] {
                if block_of(end) == Some(block) && block.reach != Reach::Global {
                    assert!(refusal(end).is_some(), "{end} of {block}");
                }
                if block_of(end) == Some(block) && block.reach == Reach::Global {
                    assert!(refusal(end).is_none(), "{end} of {block}");
                }
            }
        }
    }

    #[test]
    fn ipv6_forms_carrying_an_ipv4_address_are_judged_by_it() {
        for (text, refused) in [
            // IPv4-mapped: the socket sends to the IPv4 address.
            ("::ffff:127.0.0.1", true),
            ("::ffff:10.0.0.1", true),
            ("::ffff:198.18.0.1", true),
            ("::ffff:8.8.8.8", false),
            // NAT64 well-known prefix.
            ("64:ff9b::7f00:1", true),
            ("64:ff9b::a9fe:a9fe", true),
            ("64:ff9b::c0a8:101", true),
            ("64:ff9b::808:808", false),
            // Local-use NAT64: refused whole.
            ("64:ff9b:1::808:808", true),
            ("64:ff9b:1::7f00:1", true),
            // 6to4: the IPv4 address is in bits 16 to 47.
            ("2002:7f00:1::1", true),
            ("2002:a00:1::1", true),
            ("2002:f000:1::", true),
            ("2002:808:808::1", false),
            // IPv4-compatible (deprecated): refused whole.
            ("::127.0.0.1", true),
            ("::8.8.8.8", true),
            // Teredo: refused whole, whether the client address (the last
            // 32 bits, inverted) is 127.0.0.1 or public.
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", true),
            ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", true),
        ] {
            assert_eq!(refusal(ip(text)).is_some(), refused, "{text}");
        }
    }

    #[test]
    fn a_refusal_names_the_block_and_the_carried_address() {
        assert_eq!(
            refusal(ip("2002:7f00:1::1")).unwrap().to_string(),
            "2002:7f00:1::1 is not a globally reachable address: 2002::/16 (6to4) carrying 127.0.0.1, in 127.0.0.0/8 (Loopback)"
        );
        assert_eq!(
            refusal(ip("198.18.0.1")).unwrap().to_string(),
            "198.18.0.1 is not a globally reachable address: 198.18.0.0/15 (Benchmarking)"
        );
        let nat64 = refusal(ip("64:ff9b::7f00:1")).unwrap();
        assert_eq!(nat64.block.prefix, 96);
        assert_eq!(nat64.carried.map(|(v4, _)| v4), Some(Ipv4Addr::LOCALHOST));
    }
}
