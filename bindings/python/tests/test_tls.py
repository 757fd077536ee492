"""rediss:// nodes (real redis-server TLS listeners) with a private CA."""

import pytest

import redlead


def test_locks_over_tls_with_a_private_ca(tls_nodes):
    nodes, ca = tls_nodes
    urls = [n.tls_url for n in nodes]
    for pem in (ca, ca.encode()):
        client = redlead.Client(urls, tls_ca_pem=pem)
        lock = client.try_acquire("py-tls", ttl_ms=5_000, fencing=True)
        assert lock is not None and lock.fencing_token >= 1
        key = "redlead:{py-tls}"
        assert sum(1 for n in nodes if n.cmd("EXISTS", key) == 1) >= 2
        lock.release()


def test_an_untrusted_certificate_is_a_connection_error(tls_nodes):
    nodes, _ = tls_nodes
    client = redlead.Client([n.tls_url for n in nodes])
    with pytest.raises(redlead.ConnectionError) as e:
        client.try_acquire("py-tls-untrusted", ttl_ms=5_000)
    assert "certificate" in str(e.value).lower()


@pytest.mark.parametrize("kw", [
    {"tls_ca_pem": "not pem"},
    {"tls_ca_pem": 42},
    {"tls_client_cert_pem": "-----BEGIN CERTIFICATE-----"},
])
def test_bad_tls_material_is_invalid_argument(tls_nodes, kw):
    nodes, _ = tls_nodes
    with pytest.raises(redlead.InvalidArgument) as e:
        redlead.Client([n.tls_url for n in nodes], **kw)
    assert "tls" in str(e.value)
