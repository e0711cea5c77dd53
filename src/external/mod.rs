//! Trait implementations for other crates' traits, behind their features,
//! in one room (as hashbrown's `external_trait_impls`).

#[cfg(feature = "rayon")]
pub(crate) mod rayon;
#[cfg(all(feature = "rayon", target_pointer_width = "64"))]
pub(crate) mod rayon_map;
