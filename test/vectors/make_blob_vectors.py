#!/usr/bin/env python3
"""Independent implementation of Trent's ciphertext blob v1 (docs/ciphertext-format.md), used to make the
vectors in ciphertext-v1.json. Written from the document, not from the TypeScript code, so that the test
comparing the two checks the document too. Run: python3 test/vectors/make_blob_vectors.py > test/vectors/ciphertext-v1.json"""
import json
import struct
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def encode_context(ctx):
    pairs = sorted(((k.encode(), v.encode()) for k, v in ctx.items()), key=lambda p: p[0])
    out = struct.pack(">I", len(pairs))
    for k, v in pairs:
        out += struct.pack(">I", len(k)) + k + struct.pack(">I", len(v)) + v
    return out


def header(arn, material_id_hex):
    a, m = arn.encode(), bytes.fromhex(material_id_hex)
    return bytes([1]) + struct.pack(">H", len(a)) + a + bytes([len(m)]) + m


def blob(material, iv, arn, material_id_hex, plaintext, ctx):
    h = header(arn, material_id_hex)
    sealed = AESGCM(material).encrypt(iv, plaintext, h + encode_context(ctx))  # ciphertext || tag
    return h + iv + sealed


CASES = [
    ("empty context", b"hello, Trent", {}),
    ("one pair", b"attack at dawn", {"purpose": "test"}),
    ("a/bc", b"x", {"a": "bc"}),
    ("ab/c", b"x", {"ab": "c"}),
    ("unsorted, unicode", "d\u00e9j\u00e0 vu".encode(), {"z": "1", "\u00e9": "2", "A": "3", "aa": ""}),
    ("4096 bytes", bytes(range(256)) * 16, {"size": "max"}),
]

material = bytes(range(32))
iv = bytes.fromhex("000102030405060708090a0b")
arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
mid = "5f" * 32
vectors = []
for name, pt, ctx in CASES:
    vectors.append({
        "name": name,
        "material": material.hex(), "iv": iv.hex(), "keyArn": arn, "materialId": mid,
        "plaintext": pt.hex(), "encryptionContext": ctx,
        "encodedContext": encode_context(ctx).hex(),
        "blob": blob(material, iv, arn, mid, pt, ctx).hex(),
    })
print(json.dumps({"format": "trent ciphertext blob v1", "vectors": vectors}, indent=1, ensure_ascii=False))
