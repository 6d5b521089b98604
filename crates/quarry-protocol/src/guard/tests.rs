use super::*;

const LIMIT: u64 = 1000;

fn greeting() -> Vec<u8> {
    let mut greeting = vec![0u8; GREETING_BYTES];
    greeting[0] = 0xff;
    greeting[9] = 0x7f;
    greeting
}

fn short_frame(flags: u8, body: &[u8]) -> Vec<u8> {
    let mut frame = vec![flags, u8::try_from(body.len()).unwrap()];
    frame.extend_from_slice(body);
    frame
}

fn long_header(flags: u8, size: u64) -> Vec<u8> {
    let mut header = vec![flags | LONG];
    header.extend_from_slice(&size.to_be_bytes());
    header
}

/// Feeds `stream` in pieces of `piece` bytes.
fn scan_in_pieces(stream: &[u8], piece: usize) -> Result<(), TooLarge> {
    let mut scanner = FrameScanner::new(LIMIT);
    stream
        .chunks(piece)
        .try_for_each(|chunk| scanner.scan(chunk))
}

#[test]
fn a_normal_conversation_passes_in_any_pieces() {
    let mut stream = greeting();
    stream.extend(short_frame(COMMAND, b"\x05READY"));
    stream.extend(short_frame(MORE, b"<IDS|MSG>"));
    stream.extend(short_frame(MORE, &[7; 200]));
    stream.extend(short_frame(0, &[8; 200]));
    let mut header = long_header(0, 900);
    header.extend(vec![9; 900]);
    stream.extend(header);
    for piece in [1, 2, 7, 64, 65, 4096] {
        assert_eq!(scan_in_pieces(&stream, piece), Ok(()), "pieces of {piece}");
    }
}

#[test]
fn a_huge_announced_frame_is_refused_before_its_body() {
    let mut stream = greeting();
    stream.extend(long_header(0, 1 << 62));
    for piece in [1, 3, 4096] {
        assert_eq!(
            scan_in_pieces(&stream, piece),
            Err(TooLarge { bytes: 1 << 62 })
        );
    }
}

#[test]
fn a_huge_command_is_refused_too() {
    let mut stream = greeting();
    stream.extend(long_header(COMMAND, LIMIT + 1));
    assert_eq!(
        scan_in_pieces(&stream, 4096),
        Err(TooLarge { bytes: LIMIT + 1 })
    );
}

#[test]
fn many_small_frames_of_one_message_add_up() {
    let mut stream = greeting();
    for _ in 0..10 {
        stream.extend(short_frame(MORE, &[1; 99]));
    }
    stream.extend(short_frame(0, &[1; 11]));
    assert_eq!(scan_in_pieces(&stream, 4096), Err(TooLarge { bytes: 1001 }));
}

#[test]
fn the_count_starts_again_with_each_message() {
    let mut stream = greeting();
    for _ in 0..30 {
        stream.extend(short_frame(MORE, &[1; 200]));
        stream.extend(short_frame(0, &[1; 200]));
    }
    assert_eq!(scan_in_pieces(&stream, 100), Ok(()));
}

#[test]
fn commands_between_frames_do_not_count_towards_the_message() {
    let mut stream = greeting();
    stream.extend(short_frame(MORE, &[1; 250]));
    stream.extend(short_frame(COMMAND, &[2; 250]));
    stream.extend(short_frame(MORE, &[1; 250]));
    stream.extend(short_frame(COMMAND, &[2; 250]));
    stream.extend(short_frame(0, &[1; 250]));
    assert_eq!(scan_in_pieces(&stream, 13), Ok(()));
}

#[test]
fn empty_frames_end_a_message_like_any_other() {
    let mut stream = greeting();
    stream.extend(short_frame(MORE, &[1; 250]));
    stream.extend(short_frame(0, &[]));
    for _ in 0..4 {
        stream.extend(short_frame(MORE, &[1; 250]));
        stream.extend(short_frame(0, &[]));
    }
    assert_eq!(scan_in_pieces(&stream, 5), Ok(()));
}
