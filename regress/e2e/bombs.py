"""Hostile content for the content attack tests (test_attack_content*.py),
made at run time, never stored: MIME and header bombs, archive bombs
for the virus scanner (a 42.zip of the same shape, an overlapping-entry
zip, a chain of nested tar.gz, a 1 GB bzip2 of zeros), a zip encrypted
with the traditional PKWARE cipher, and mail that wraps them.

Each maker is fast: the deflate and bzip2 streams of zeros are made
once for a block and repeated, and checksums of zeros are computed, so
nothing of the nominal size is ever built.
"""
import base64
import bz2
import gzip
import io
import struct
import tarfile
import zlib

__all__ = [
    "EICAR", "GB", "crc32_zeros", "deflate_zeros", "zip_raw", "zip_42",
    "zip_overlap", "tgz_chain", "bz2_zeros", "zip_encrypted",
    "mime_message", "nested_multipart", "flat_parts", "header_lines",
    "param_flood",
]

EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-"
         b"TEST-FILE!$H+H*")
GB = 1 << 30

# -- checksums and streams of zeros


def _gf2_times(mat, vec):
    out = 0
    i = 0
    while vec:
        if vec & 1:
            out ^= mat[i]
        vec >>= 1
        i += 1
    return out


def _gf2_square(mat):
    return [_gf2_times(mat, mat[n]) for n in range(32)]


def crc32_zeros(n):
    """zlib.crc32(bytes(n)) without the bytes: the CRC register's step
    over zero bits is linear, so it is raised to the power 8n."""
    op = [0xedb88320] + [1 << k for k in range(31)]    # one zero bit
    reg = 0xffffffff
    bits = 8 * n
    while bits:
        if bits & 1:
            reg = _gf2_times(op, reg)
        op = _gf2_square(op)
        bits >>= 1
    return reg ^ 0xffffffff


def deflate_zeros(n):
    """A raw deflate stream of n zero bytes (n a multiple of 1 MiB): the
    stream of one MiB after a full flush is the same every time, so it
    is made twice and repeated."""
    mib = 1 << 20
    assert n % mib == 0 and n >= 2 * mib
    z = bytes(mib)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(z) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(z) + c.flush(zlib.Z_FULL_FLUSH)
    last = c.compress(z) + c.flush()
    return first + again * (n // mib - 2) + last


# -- zip files written by hand (zipfile cannot take a made stream)


def zip_raw(entries, central=None):
    """A zip of entries (name, method, crc, usize, data as stored). The
    central directory lists central (pairs of name and the index of the
    entry whose local header it points at), by default each entry."""
    out = io.BytesIO()
    offsets = []
    for name, method, crc, usize, data in entries:
        offsets.append(out.tell())
        nm = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, method,
                              0, 0x21, crc, len(data), min(usize,
                                                           0xffffffff),
                              len(nm), 0) + nm + data)
    cd = out.tell()
    if central is None:
        central = [(e[0], i) for i, e in enumerate(entries)]
    for name, i in central:
        _, method, crc, usize, data = entries[i]
        nm = name.encode()
        out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0,
                              method, 0, 0x21, crc, len(data),
                              min(usize, 0xffffffff), len(nm), 0, 0, 0, 0,
                              0, offsets[i]) + nm)
    end = out.tell()
    out.write(struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, len(central),
                          len(central), end - cd, cd, 0))
    return out.getvalue()


def _deflated(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def zip_42(levels=5, width=16, inner=256 << 20):
    """The shape of 42.zip: levels of zips of width zips each; the last
    holds width files of inner zero bytes. With the defaults 42 KB that
    unpack to 256 TiB (42.zip's own files are 16 times larger, which
    keeps its layers from fitting deflate's 32 KB window here)."""
    stream = deflate_zeros(inner)
    crc = crc32_zeros(inner)
    cur = zip_raw([("%x.dat" % i, 8, crc, inner, stream)
                   for i in range(width)])
    for lv in range(levels - 1):
        packed = _deflated(cur)
        crc = zlib.crc32(cur)
        cur = zip_raw([("lib %x.zip" % i, 8, crc, len(cur), packed)
                       for i in range(width)])
    return cur


def zip_overlap(entries=1000, size=256 << 20):
    """One local file of size zero bytes, and a central directory whose
    entries all point at it (the full overlap of CVE-2019-12625):
    entries * size bytes for a scanner that unpacks each."""
    e = ("0", 8, crc32_zeros(size), size, deflate_zeros(size))
    return zip_raw([e], central=[(str(i), 0) for i in range(entries)])


def tgz_chain(depth, inner, name="eicar.com"):
    """inner in a tar.gz, in a tar.gz ... depth times."""
    data = inner
    for i in range(depth):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tf:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 0
            tf.addfile(ti, io.BytesIO(data))
        data = gzip.compress(raw.getvalue(), 6, mtime=0)
        name = "layer%d.tar.gz" % i
    return data


_BLOCK_MAGIC = format(0x314159265359, "048b")
_EOS_MAGIC = format(0x177245385090, "048b")


def _bits(b):
    return "".join(format(x, "08b") for x in b)


def _unbits(s):
    s += "0" * (-len(s) % 8)
    return int(s, 2).to_bytes(len(s) // 8, "big")


def bz2_zeros(size=GB):
    """A bzip2 stream of at least size zero bytes: one full block of
    zeros (about 46 MB, 32 bytes once compressed) repeated, with the
    stream's combined CRC computed. (bytes, the exact size)."""
    s = _bits(bz2.compress(bytes(60 << 20)))
    a = s.find(_BLOCK_MAGIC)
    b = s.find(_BLOCK_MAGIC, a + 1)
    block = s[a:b]
    crc = int(block[48:80], 2)
    one = _unbits(s[:a] + block + _EOS_MAGIC + format(crc, "032b"))
    per = len(bz2.decompress(one))
    n = -(-size // per)
    comb = 0
    for _ in range(n):
        comb = (((comb << 1) | (comb >> 31)) & 0xffffffff) ^ crc
    return (_unbits(s[:a] + block * n + _EOS_MAGIC + format(comb, "032b")),
            n * per)


# -- the traditional PKWARE encryption (APPNOTE 6.1)

def _crc_byte(c, b):
    return zlib.crc32(bytes([b]), c ^ 0xffffffff) ^ 0xffffffff


class _ZipCrypto:
    def __init__(self, password):
        self.k = [0x12345678, 0x23456789, 0x34567890]
        for b in password:
            self.update(b)

    def update(self, b):
        k = self.k
        k[0] = _crc_byte(k[0], b)
        k[1] = ((k[1] + (k[0] & 0xff)) * 134775813 + 1) & 0xffffffff
        k[2] = _crc_byte(k[2], k[1] >> 24)

    def encrypt(self, data):
        out = bytearray()
        for b in data:
            t = (self.k[2] | 2) & 0xffff
            out.append(b ^ (((t * (t ^ 1)) >> 8) & 0xff))
            self.update(b)
        return bytes(out)


def zip_encrypted(name, data, password=b"secret"):
    """A zip whose one entry is stored, encrypted with password (general
    purpose flag bit 0)."""
    crc = zlib.crc32(data)
    zc = _ZipCrypto(password)
    head = bytes(range(11)) + bytes([crc >> 24])
    enc = zc.encrypt(head + data)
    nm = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 1, 0, 0, 0x21, crc,
                        len(enc), len(data), len(nm), 0) + nm + enc
    cd = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 1, 0, 0,
                     0x21, crc, len(enc), len(data), len(nm), 0, 0, 0, 0, 0,
                     0) + nm
    return local + cd + struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 1, 1,
                                    len(cd), len(local), 0)


# -- mail


def mime_message(mid, parts, sender="x@remote.test",
                 rcpt="alice@example.test", extra=b""):
    """A multipart/mixed message of attachments: parts are (content
    type, file name, bytes), each sent in base64."""
    out = (b"From: <%s>\r\nTo: <%s>\r\nSubject: content\r\nMessage-ID: %s"
           b"\r\n%sMIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
           b"boundary=\"b0\"\r\n\r\n" % (sender.encode(), rcpt.encode(),
                                         mid.encode(), extra))
    for ctype, name, data in parts:
        out += (b"--b0\r\nContent-Type: %s\r\nContent-Transfer-Encoding: "
                b"base64\r\nContent-Disposition: attachment; filename=%s"
                b"\r\n\r\n" % (ctype.encode(), name.encode()) +
                base64.encodebytes(data).replace(b"\n", b"\r\n"))
    return out + b"--b0--\r\n"


def _head(mid, sender, extra=b""):
    return (b"From: <%s>\r\nTo: <alice@example.test>\r\nSubject: bomb\r\n"
            b"Message-ID: %s\r\n%sMIME-Version: 1.0\r\n" %
            (sender.encode(), mid.encode(), extra))


def nested_multipart(mid, depth, sender="x@remote.test", inner=b"deep"):
    """depth multiparts, each the only part of the one above; the
    boundaries are of one width, so none is a prefix of another (a
    delimiter line matches an open boundary that is its prefix)."""
    out = [_head(mid, sender)]
    for i in range(depth):
        out.append(b"Content-Type: multipart/mixed; boundary=\"n%05d\"\r\n"
                   b"\r\n--n%05d\r\n" % (i, i))
    out.append(b"Content-Type: text/plain\r\n\r\n" + inner + b"\r\n")
    for i in reversed(range(depth)):
        out.append(b"--n%05d--\r\n" % i)
    return b"".join(out)


def flat_parts(mid, n, sender="x@remote.test", last=None):
    """One multipart of n parts; the last one is the message last (a
    message/rfc822 part) when given."""
    out = [_head(mid, sender), b"Content-Type: multipart/mixed; "
           b"boundary=\"f\"\r\n\r\n"]
    for i in range(n - (last is not None)):
        out.append(b"--f\r\nContent-Type: text/plain\r\n\r\np%d\r\n" % i)
    if last is not None:
        out.append(b"--f\r\nContent-Type: message/rfc822\r\n\r\n" + last +
                   b"\r\n")
    out.append(b"--f--\r\n")
    return b"".join(out)


def header_lines(mid, field, n, sender="x@remote.test", extra=b""):
    """A message whose header repeats field (bytes, with its CRLF) n
    times."""
    return (_head(mid, sender, extra) + field * n +
            b"Content-Type: text/plain\r\n\r\nbody\r\n")


def param_flood(mid, n, sender="x@remote.test"):
    """A Content-Type field of n RFC 2231 sections name*K*=, folded one
    to a line, in the order K = n-1 ... 0."""
    out = [_head(mid, sender), b"Content-Type: application/octet-stream"]
    for k in range(n - 1, -1, -1):
        out.append(b";\r\n name*%d*=%s%%41" % (k, b"utf-8''" if k == 0
                                                else b""))
    out.append(b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
               b"aGVsbG8=\r\n")
    return b"".join(out)
