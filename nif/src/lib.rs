//! Rustler glue between the BEAM and the Ferrite engine.
rustler::init!("Elixir.Ferrite.Native");
