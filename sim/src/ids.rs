//! Identifiers shaped like the real ones, drawn from the world's seeded RNG so that the
//! same seed gives the same ids on every platform.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

const BASE36: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const BASE32HEX: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
const HEX: &[u8] = b"0123456789abcdef";
/// The alphabet of Kubernetes `generateName` suffixes (no vowels, no ambiguous digits).
const K8S_SUFFIX: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn random_string(rng: &mut ChaCha8Rng, alphabet: &[u8], len: usize) -> String {
    let n = alphabet.len() as u32;
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..n) as usize]))
        .collect()
}

/// An EMR virtual cluster id: 25 lowercase alphanumerics (e.g. `lq8uhanxvxk7b2zxscafq0sgd`).
pub(crate) fn virtual_cluster_id(rng: &mut ChaCha8Rng) -> String {
    random_string(rng, BASE36, 25)
}

/// An EMR job run id: 19 characters starting with `00000003`, like `000000030tk2ihdmr8g`.
pub(crate) fn job_run_id(rng: &mut ChaCha8Rng) -> String {
    format!("00000003{}", random_string(rng, BASE32HEX, 11))
}

/// A Kubernetes UID (UUID v4 text form).
pub(crate) fn uid(rng: &mut ChaCha8Rng) -> String {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// A `generateName` suffix (5 characters), as the Job controller appends to pod names.
pub(crate) fn name_suffix(rng: &mut ChaCha8Rng) -> String {
    random_string(rng, K8S_SUFFIX, 5)
}

/// `len` lowercase hex characters.
pub(crate) fn hex(rng: &mut ChaCha8Rng, len: usize) -> String {
    random_string(rng, HEX, len)
}

/// A private IPv4 address in 192.168.0.0/16 as (third, fourth) octets.
pub(crate) fn private_ip(rng: &mut ChaCha8Rng) -> (u8, u8) {
    (
        rng.random_range(0..=255u32) as u8,
        rng.random_range(1..=254u32) as u8,
    )
}

/// Lowercases a name and replaces anything outside `[a-z0-9-]` with `-`, collapsing
/// runs, as Spark does for its resource name prefix.
pub(crate) fn dns_label(name: &str, max_len: usize) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    out.truncate(max_len);
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("spark");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let vc = virtual_cluster_id(&mut rng);
        assert_eq!(vc.len(), 25);
        assert!(vc.bytes().all(|b| BASE36.contains(&b)));
        let job = job_run_id(&mut rng);
        assert_eq!(job.len(), 19);
        assert!(job.starts_with("00000003"));
        let u = uid(&mut rng);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(dns_label("Monthly Batch__Job!", 40), "monthly-batch-job");
        assert_eq!(dns_label("!!!", 40), "spark");
    }

    #[test]
    fn same_seed_same_ids() {
        let mut a = ChaCha8Rng::seed_from_u64(42);
        let mut b = ChaCha8Rng::seed_from_u64(42);
        assert_eq!(job_run_id(&mut a), job_run_id(&mut b));
        assert_eq!(uid(&mut a), uid(&mut b));
    }
}
