//! quickcheck model test of `cds::HashMap` against std's map (the
//! interpreter lives in `tests/model/map.rs`, shared with the fuzz target).

mod model {
    pub mod map;
}

use model::map;
use quickcheck::QuickCheck;

#[test]
fn map_matches_std() {
    fn prop(bytes: Vec<u8>) -> bool {
        map::check(&map::decode(&bytes));
        true
    }
    QuickCheck::new()
        .tests(if cfg!(miri) { 5 } else { 300 })
        .quickcheck(prop as fn(Vec<u8>) -> bool);
}

#[test]
fn long_sequences_match_std() {
    // quickcheck's default sizes give short op lists; a few long ones too.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..if cfg!(miri) { 1 } else { 20 } {
        let bytes: Vec<u8> = (0..if cfg!(miri) { 150 } else { 3000 })
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        map::check(&map::decode(&bytes));
    }
}
