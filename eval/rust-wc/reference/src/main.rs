use std::io::Read;

fn main() {
    let mut buf = Vec::new();
    std::io::stdin().read_to_end(&mut buf).expect("read stdin");
    let lines = buf.iter().filter(|&&b| b == b'\n').count();
    let words = String::from_utf8_lossy(&buf).split_whitespace().count();
    if std::env::args().nth(1).as_deref() == Some("-l") {
        println!("{lines}");
    } else {
        println!("{lines} {words} {}", buf.len());
    }
}
