#!/usr/bin/env python3
"""Many boto3 calls against a Trent server in one Python process (an interpreter start costs ~0.5 s).

Usage: boto3_flows.py ENDPOINT_URL
Prints one line per flow and exits non-zero on the first failed check. Run by test/e2e/boto3.test.ts.
"""
import sys

import boto3
from botocore.config import Config


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_error(kms, exc_class, call, **kwargs):
    """Calls kms.<call>(**kwargs) and checks that boto3 raises exactly kms.exceptions.<exc_class>."""
    expected = getattr(kms.exceptions, exc_class)
    try:
        getattr(kms, call)(**kwargs)
    except expected as err:
        check(err.response["Error"]["Code"] == exc_class, f"{call}: error code {err.response['Error']['Code']}")
        check(err.response["ResponseMetadata"]["HTTPStatusCode"] == 400, f"{call}: HTTP status")
        return err
    except Exception as err:  # noqa: BLE001 - report what came instead
        raise AssertionError(f"{call}: expected {exc_class}, got {type(err).__name__}: {err}") from err
    raise AssertionError(f"{call}: expected {exc_class}, the call succeeded")


def main(endpoint):
    kms = boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIABOTO3TEST",
        aws_secret_access_key="boto3-test-secret",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=10),
    )

    created = kms.create_key(Description="boto3 flows")["KeyMetadata"]
    key_id, key_arn = created["KeyId"], created["Arn"]
    check(created["KeyState"] == "Enabled" and created["Enabled"] is True, "created key is enabled")
    check(created["KeySpec"] == "SYMMETRIC_DEFAULT" and created["KeyUsage"] == "ENCRYPT_DECRYPT", "key spec and usage")
    check(key_arn == f"arn:aws:kms:us-east-1:111122223333:key/{key_id}", f"key ARN {key_arn}")
    check(hasattr(created["CreationDate"], "year"), "CreationDate parses as a datetime")
    print("ok create_key")

    for ident in (key_id, key_arn):
        md = kms.describe_key(KeyId=ident)["KeyMetadata"]
        check(md["KeyId"] == key_id and md["Description"] == "boto3 flows", f"describe_key by {ident}")
    print("ok describe_key by id and ARN")

    context = {"tenant": "acme", "purpose": "boto3"}
    enc = kms.encrypt(KeyId=key_id, Plaintext=b"boto3 secret \x00\xff", EncryptionContext=context)
    check(enc["KeyId"] == key_arn and enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT", "encrypt response")
    check(isinstance(enc["CiphertextBlob"], bytes), "CiphertextBlob is bytes")
    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=dict(reversed(list(context.items()))))
    check(dec["Plaintext"] == b"boto3 secret \x00\xff" and dec["KeyId"] == key_arn, "decrypt round trip")
    print("ok encrypt/decrypt with encryption context")

    expect_error(kms, "InvalidCiphertextException", "decrypt", CiphertextBlob=enc["CiphertextBlob"], EncryptionContext={"tenant": "other"})
    expect_error(kms, "InvalidCiphertextException", "decrypt", CiphertextBlob=enc["CiphertextBlob"])
    tampered = bytearray(enc["CiphertextBlob"])
    tampered[-1] ^= 1
    expect_error(kms, "InvalidCiphertextException", "decrypt", CiphertextBlob=bytes(tampered), EncryptionContext=context)
    print("ok InvalidCiphertextException for a wrong context, no context, a flipped bit")

    other = kms.create_key()["KeyMetadata"]["KeyId"]
    expect_error(kms, "IncorrectKeyException", "decrypt", CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=context, KeyId=other)
    print("ok IncorrectKeyException")

    err = expect_error(kms, "NotFoundException", "describe_key", KeyId="00000000-0000-0000-0000-000000000000")
    check("does not exist" in str(err) or "not found" in str(err).lower(), f"NotFoundException message: {err}")
    expect_error(kms, "NotFoundException", "encrypt", KeyId="not-a-key", Plaintext=b"x")
    print("ok NotFoundException")

    try:
        kms.encrypt(KeyId=key_id, Plaintext=b"x" * 4097)
        raise AssertionError("a 4097-byte plaintext was accepted")
    except kms.exceptions.ClientError as err:
        code = err.response["Error"]["Code"]
        check(code == "ValidationException", f"oversized plaintext: {code}")
        check("Member must have length less than or equal to 4096" in err.response["Error"]["Message"], "validation message")
    print("ok ValidationException")

    dk = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext={"file": "a.txt"})
    check(len(dk["Plaintext"]) == 32 and dk["KeyId"] == key_arn, "data key 256")
    check(kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"file": "a.txt"})["Plaintext"] == dk["Plaintext"], "data key decrypts")
    dk16 = kms.generate_data_key(KeyId=key_arn, NumberOfBytes=16)
    check(len(dk16["Plaintext"]) == 16, "data key 16 bytes")
    wp = kms.generate_data_key_without_plaintext(KeyId=key_id, KeySpec="AES_128")
    check("Plaintext" not in wp, "no plaintext in GenerateDataKeyWithoutPlaintext")
    check(len(kms.decrypt(CiphertextBlob=wp["CiphertextBlob"])["Plaintext"]) == 16, "without-plaintext key decrypts")
    print("ok generate_data_key and generate_data_key_without_plaintext")

    re = kms.re_encrypt(
        CiphertextBlob=enc["CiphertextBlob"],
        SourceEncryptionContext=context,
        DestinationKeyId=other,
        DestinationEncryptionContext={"moved": "yes"},
    )
    check(re["SourceKeyId"] == key_arn and re["KeyId"].endswith(other), "re_encrypt key ids")
    moved = kms.decrypt(CiphertextBlob=re["CiphertextBlob"], EncryptionContext={"moved": "yes"})
    check(moved["Plaintext"] == b"boto3 secret \x00\xff" and moved["KeyId"].endswith(other), "re-encrypted blob decrypts under the new key")
    print("ok re_encrypt")

    rnd = kms.generate_random(NumberOfBytes=64)["Plaintext"]
    check(len(rnd) == 64, "generate_random length")
    print("ok generate_random")

    # A 12-digit access key id selects that account in dev mode: the key is not visible from there.
    other_account = boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="444455556666",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    try:
        other_account.describe_key(KeyId=key_id)
        raise AssertionError("another account could describe the key")
    except (other_account.exceptions.NotFoundException, other_account.exceptions.ClientError) as err:
        code = err.response["Error"]["Code"]
        check(code in ("NotFoundException", "AccessDeniedException"), f"cross-account describe_key: {code}")
    print("ok other account cannot see the key")

    multi_region_flows(endpoint)

    print("boto3 flows: all checks passed")


def multi_region_flows(endpoint):
    """Multi-Region keys: one client per Region; the server completes Creating/Updating on its own (short transitions)."""
    import time

    def client(region):
        return boto3.client(
            "kms", endpoint_url=endpoint, region_name=region, aws_access_key_id="AKIABOTO3TEST", aws_secret_access_key="x",
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=10),
        )

    def until_state(c, key_id, state):
        for _ in range(2000):
            if c.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == state:
                return
            time.sleep(0.005)
        raise AssertionError(f"{key_id} never became {state}")

    east, west, eu = client("us-east-1"), client("us-west-2"), client("eu-west-1")
    md = east.create_key(MultiRegion=True, Description="boto3 mrk")["KeyMetadata"]
    key_id = md["KeyId"]
    check(key_id.startswith("mrk-") and len(key_id) == 36, f"mrk key id {key_id}")
    check(md["MultiRegion"] is True and md["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY", "primary configuration")
    rep = east.replicate_key(KeyId=key_id, ReplicaRegion="us-west-2", Description="west", Tags=[{"TagKey": "site", "TagValue": "west"}])
    check(rep["ReplicaKeyMetadata"]["KeyState"] == "Creating" and rep["ReplicaTags"] == [{"TagKey": "site", "TagValue": "west"}], "replicate_key answer")
    check(rep["ReplicaKeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA", "replica configuration")
    east.replicate_key(KeyId=key_id, ReplicaRegion="eu-west-1")
    until_state(west, key_id, "Enabled")
    until_state(eu, key_id, "Enabled")
    print("ok create_key MultiRegion and replicate_key")

    blob = west.encrypt(KeyId=key_id, Plaintext=b"from us-west-2", EncryptionContext={"a": "b"})["CiphertextBlob"]
    for c, region in ((east, "us-east-1"), (eu, "eu-west-1")):
        out = c.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})
        check(out["Plaintext"] == b"from us-west-2" and out["KeyId"] == f"arn:aws:kms:{region}:111122223333:key/{key_id}", f"decrypt in {region}")
    print("ok encrypt in one Region, decrypt in the others")

    expect_error(west, "UnsupportedOperationException", "replicate_key", KeyId=key_id, ReplicaRegion="ap-south-1")
    expect_error(east, "AlreadyExistsException", "replicate_key", KeyId=key_id, ReplicaRegion="eu-west-1")
    expect_error(west, "UnsupportedOperationException", "enable_key_rotation", KeyId=key_id)
    print("ok multi-Region errors")

    east.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=180)
    east.rotate_key_on_demand(KeyId=key_id)
    statuses = {c.get_key_rotation_status(KeyId=key_id)["RotationPeriodInDays"] for c in (east, west, eu)}
    check(statuses == {180}, f"rotation status on every related key: {statuses}")
    current = {c.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] for c in (east, west, eu)}
    check(len(current) == 1, f"one current material on every related key: {current}")
    print("ok rotation on the primary applies to every related key")

    east.update_primary_region(KeyId=key_id, PrimaryRegion="eu-west-1")
    until_state(east, key_id, "Enabled")
    until_state(eu, key_id, "Enabled")
    check(eu.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY", "new primary")
    check(east.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA", "old primary")
    check(west.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == b"from us-west-2", "decrypt after the change")
    print("ok update_primary_region")

    scheduled = eu.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    check(scheduled["KeyState"] == "PendingReplicaDeletion" and "DeletionDate" not in scheduled, f"primary with replicas: {scheduled['KeyState']}")
    check(eu.describe_key(KeyId=key_id)["KeyMetadata"]["PendingDeletionWindowInDays"] == 7, "PendingDeletionWindowInDays")
    eu.cancel_key_deletion(KeyId=key_id)
    print("ok schedule_key_deletion of a primary with replicas")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
