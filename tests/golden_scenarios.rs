mod common;

fn main() {
    let _ = common::shared_dir();
}
