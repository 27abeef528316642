//! The eBPF program that chooses a ClusterIP's endpoint at `connect()`, as bytecode.
//!
//! Written as instructions rather than compiled from C, so that building Skiff needs no clang
//! and no BPF toolchain: the program is 28 instructions, each one line below with what it does.
//! The kernel's verifier checks it when it is loaded (`sys::load_connect4`): every memory
//! access in bounds, every path ending in `exit`.
//!
//! What it does, for every `connect()` of an IPv4 socket on the host (pods' sockets included):
//!
//! ```text
//! if protocol != TCP                                  → leave it alone (UDP stays with iptables)
//! service = services[{user_ip4, user_port}]           → not a ClusterIP of ours: leave it alone
//! if service.count == 0                               → leave it alone (iptables REJECTs it)
//! i = random() % service.count
//! backend = backends[{user_ip4, user_port, i}]
//! user_ip4, user_port = backend.ip, backend.port      → the socket connects straight to the pod
//! ```
//!
//! Returning 1 lets the `connect()` go on (0 would refuse it). The addresses and ports are kept
//! as the kernel hands them over (network byte order), so the program never converts them.
//!
//! Mirrors, in spirit, Cilium's socket-level load balancing (`bpf/bpf_sock.c`,
//! `__sock4_xlate_fwd`); left out: `getpeername()` answering the ClusterIP (it answers the
//! pod's address), UDP `sendmsg`/`recvmsg`, session affinity, and the LRU of backends by socket
//! cookie.

/// `struct bpf_sock_addr`'s fields the program reads and writes (`include/uapi/linux/bpf.h`).
const USER_IP4: i16 = 4;
const USER_PORT: i16 = 24;
const PROTOCOL: i16 = 36;
const IPPROTO_TCP: i32 = 6;

/// Kernel helper functions, by number.
const MAP_LOOKUP_ELEM: i32 = 1;
const GET_PRANDOM_U32: i32 = 7;

/// Where on the program's stack the lookup key is built: `{ip, port, index}`, 12 bytes; the
/// services map's key is its first 8.
const KEY_IP: i16 = -16;
const KEY_PORT: i16 = -12;
const KEY_INDEX: i16 = -8;

/// One instruction: `struct bpf_insn`, 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    pub fn encode(&self) -> [u8; 8] {
        let [o0, o1] = self.off.to_le_bytes();
        let [i0, i1, i2, i3] = self.imm.to_le_bytes();
        [self.code, (self.src << 4) | (self.dst & 0x0f), o0, o1, i0, i1, i2, i3]
    }
}

// The registers: r0 results, r1–r5 arguments, r6–r9 kept across calls, r10 the stack.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R6: u8 = 6;
const R7: u8 = 7;
const R10: u8 = 10;

// Opcodes (`include/uapi/linux/bpf_common.h` and `bpf.h`): class | operation | source.
const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
const STX_W: u8 = 0x63; // BPF_STX | BPF_MEM | BPF_W: *(u32 *)(dst + off) = src
const MOV64_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X: dst = src
const MOV64_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K: dst = imm
const ADD64_K: u8 = 0x07; // BPF_ALU64 | BPF_ADD | BPF_K: dst += imm
const MOD32_X: u8 = 0x9c; // BPF_ALU | BPF_MOD | BPF_X: dst = (u32)dst % (u32)src
const JEQ64_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K: if dst == imm, jump by off
const JEQ32_K: u8 = 0x16; // BPF_JMP32 | BPF_JEQ | BPF_K
const JNE32_K: u8 = 0x56; // BPF_JMP32 | BPF_JNE | BPF_K
const LD_IMM64: u8 = 0x18; // BPF_LD | BPF_DW | BPF_IMM: two slots, a 64-bit constant
const CALL: u8 = 0x85;
const EXIT: u8 = 0x95;
/// `src` of an `LD_IMM64` whose constant is a map's file descriptor, which the kernel replaces
/// by the map itself when it loads the program.
const PSEUDO_MAP_FD: u8 = 1;

/// A jump whose target is the last two instructions (`return 1`); patched once they are placed.
const TO_OUT: i16 = i16::MIN;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, dst, src, off, imm }
}

fn load_map(dst: u8, fd: i32) -> [Insn; 2] {
    [insn(LD_IMM64, dst, PSEUDO_MAP_FD, 0, fd), insn(0, 0, 0, 0, 0)]
}

/// The program, for the two maps' file descriptors.
pub fn connect4(services_fd: i32, backends_fd: i32) -> Vec<Insn> {
    let mut p = vec![
        insn(MOV64_X, R6, R1, 0, 0),               // r6 = ctx (r1 is lost at the first call)
        insn(LDX_W, R2, R6, PROTOCOL, 0),          // w2 = ctx->protocol
        insn(JNE32_K, R2, 0, TO_OUT, IPPROTO_TCP), // not TCP: leave it alone
        insn(LDX_W, R2, R6, USER_IP4, 0),          // key.ip = ctx->user_ip4
        insn(STX_W, R10, R2, KEY_IP, 0),           //
        insn(LDX_W, R2, R6, USER_PORT, 0),         // key.port = ctx->user_port
        insn(STX_W, R10, R2, KEY_PORT, 0),         //
        insn(MOV64_X, R2, R10, 0, 0),              // r2 = &key
        insn(ADD64_K, R2, 0, 0, KEY_IP as i32),    //
    ];
    p.extend(load_map(R1, services_fd)); //          r1 = services
    p.extend([
        insn(CALL, 0, 0, 0, MAP_LOOKUP_ELEM),   // r0 = services[key]
        insn(JEQ64_K, R0, 0, TO_OUT, 0),        // none: not ours
        insn(LDX_W, R7, R0, 0, 0),              // w7 = service.count
        insn(JEQ32_K, R7, 0, TO_OUT, 0),        // no endpoint: iptables REJECTs
        insn(CALL, 0, 0, 0, GET_PRANDOM_U32),   // w0 = random
        insn(MOD32_X, R0, R7, 0, 0),            // w0 %= count
        insn(STX_W, R10, R0, KEY_INDEX, 0),     // key.index = w0
        insn(MOV64_X, R2, R10, 0, 0),           // r2 = &key
        insn(ADD64_K, R2, 0, 0, KEY_IP as i32), //
    ]);
    p.extend(load_map(R1, backends_fd)); //          r1 = backends
    p.extend([
        insn(CALL, 0, 0, 0, MAP_LOOKUP_ELEM), // r0 = backends[key]
        insn(JEQ64_K, R0, 0, TO_OUT, 0),      // none (a sync in between): leave it alone
        insn(LDX_W, R2, R0, 0, 0),            // ctx->user_ip4 = backend.ip
        insn(STX_W, R6, R2, USER_IP4, 0),     //
        insn(LDX_W, R2, R0, 4, 0),            // ctx->user_port = backend.port
        insn(STX_W, R6, R2, USER_PORT, 0),    //
        insn(MOV64_K, R0, 0, 0, 1),           // out: return 1, the connect() goes on
        insn(EXIT, 0, 0, 0, 0),
    ]);
    let out = p.len() - 2;
    for (at, i) in p.iter_mut().enumerate() {
        if i.off == TO_OUT {
            i.off = (out - at - 1) as i16;
        }
    }
    p
}

/// The instructions as the kernel takes them.
pub fn encode(program: &[Insn]) -> Vec<u8> {
    program.iter().flat_map(Insn::encode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_jump(i: &Insn) -> bool {
        matches!(i.code, JEQ64_K | JEQ32_K | JNE32_K)
    }

    #[test]
    fn every_jump_lands_on_the_return() {
        let p = connect4(7, 8);
        let out = p.len() - 2;
        let jumps: Vec<usize> = (0..p.len()).filter(|&at| is_jump(&p[at])).collect();
        assert_eq!(jumps.len(), 4, "protocol, no service, no endpoint, no backend: {jumps:?}");
        for at in jumps {
            assert_eq!(at as i64 + 1 + p[at].off as i64, out as i64, "the jump at {at}");
        }
        assert_eq!((p[out].code, p[out].imm, p[out + 1].code), (MOV64_K, 1, EXIT), "return 1");
    }

    #[test]
    fn the_maps_are_referenced_by_their_descriptors() {
        let p = connect4(7, 8);
        let maps: Vec<(u8, i32)> = p.iter().filter(|i| i.code == LD_IMM64).map(|i| (i.src, i.imm)).collect();
        assert_eq!(maps, [(PSEUDO_MAP_FD, 7), (PSEUDO_MAP_FD, 8)]);
        assert_eq!(p.len(), 30, "28 instructions, two of them double width");
    }

    #[test]
    fn instructions_encode_as_the_kernel_lays_them_out() {
        let cases = [
            ("w2 = *(u32 *)(r6 + 36)", insn(LDX_W, R2, R6, PROTOCOL, 0), [0x61, 0x62, 36, 0, 0, 0, 0, 0]),
            ("*(u32 *)(r10 - 16) = w2", insn(STX_W, R10, R2, KEY_IP, 0), [0x63, 0x2a, 0xf0, 0xff, 0, 0, 0, 0]),
            ("r0 = 1", insn(MOV64_K, R0, 0, 0, 1), [0xb7, 0x00, 0, 0, 1, 0, 0, 0]),
            ("if w2 != 6 goto +3", insn(JNE32_K, R2, 0, 3, 6), [0x56, 0x02, 3, 0, 6, 0, 0, 0]),
            ("r1 = map fd 7", load_map(R1, 7)[0], [0x18, 0x11, 0, 0, 7, 0, 0, 0]),
        ];
        for (name, i, bytes) in cases {
            assert_eq!(i.encode(), bytes, "{name}");
        }
        assert_eq!(encode(&connect4(7, 8)).len(), 30 * 8);
    }
}
