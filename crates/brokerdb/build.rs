//! Embeds every `migrations/NNNN_name.sql` file into the crate (see `brokerdb_build`).

fn main() {
    brokerdb_build::embed_migrations();
}
