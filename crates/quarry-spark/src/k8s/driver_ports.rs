//! Which driver ports a cluster session listens on.
//!
//! Executors dial the driver (RPC) and its block manager at the notebook
//! pod's IP, so those ports must be fixed and opened by the user namespace's
//! NetworkPolicy — which opens the range [`DRIVER_PORTS`] (see
//! `images/hub/quarry_tenancy.py`). Two notebooks in one pod each run their
//! own Spark driver, so each session takes the first free pair of the range;
//! when every pair is taken, starting is refused in one sentence.

use std::net::{Ipv4Addr, TcpListener};
use std::ops::RangeInclusive;

use crate::SparkError;

/// The ports the NetworkPolicy opens to the user's executors: 11 pairs.
pub const DRIVER_PORTS: RangeInclusive<u16> = 7078..=7099;

/// A session's `(driver, block manager)` ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverPorts {
    pub driver: u16,
    pub block_manager: u16,
}

/// The first pair of `range` (even, odd) for which `is_free` holds on both.
pub fn pick(
    range: RangeInclusive<u16>,
    is_free: impl Fn(u16) -> bool,
) -> Result<DriverPorts, SparkError> {
    let (first, last) = (*range.start(), *range.end());
    let mut port = first;
    while port < last {
        if is_free(port) && is_free(port + 1) {
            return Ok(DriverPorts {
                driver: port,
                block_manager: port + 1,
            });
        }
        port += 2;
    }
    Err(SparkError::NotAllowed(format!(
        "All {} Spark driver port pairs this notebook pod may use ({first}–{last}) are taken by other Spark sessions in the pod: stop one of them (%spark stop in its notebook) and start again.",
        (last - first).div_ceil(2)
    )))
}

/// Whether nothing listens on `port` here (a bind succeeds).
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_free_pair_is_taken() {
        assert_eq!(
            pick(7078..=7099, |_| true).unwrap(),
            DriverPorts {
                driver: 7078,
                block_manager: 7079
            }
        );
        // Another session holds 7078/7079, and someone else 7081.
        let busy = [7078, 7079, 7081];
        assert_eq!(
            pick(7078..=7099, |p| !busy.contains(&p)).unwrap(),
            DriverPorts {
                driver: 7082,
                block_manager: 7083
            }
        );
    }

    #[test]
    fn a_full_range_is_one_sentence() {
        let refused = pick(7078..=7099, |_| false).unwrap_err().to_string();
        assert_eq!(
            refused,
            "All 11 Spark driver port pairs this notebook pod may use (7078–7099) are taken by other Spark sessions in the pod: stop one of them (%spark stop in its notebook) and start again."
        );
    }

    #[test]
    fn a_bound_port_is_not_free() {
        let held = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        assert!(!port_is_free(port));
        drop(held);
    }
}
