//! Trait implementations for other crates' traits, behind their features,
//! in one room (as hashbrown's `external_trait_impls`).

#[cfg(feature = "rayon")]
pub(crate) mod rayon;
