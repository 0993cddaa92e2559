"""Runs ops' own model backend (unmodified, from PyPI) against the simulator's hook tools.

ops calls the tools by name on PATH and parses their output exactly as under Juju, so every
call here checks our argument handling and output formats against a real client.
Usage: python backend.py leader|follower. Prints OK when every expectation holds.
"""

import sys

import ops
from ops.model import ModelError, SecretNotFoundError, _ModelBackend

b = _ModelBackend()
mode = sys.argv[1]

if mode == 'leader':
    assert b.is_leader() is True
    assert b.config_get() == {'port': 5432, 'debug': True}, b.config_get()
    assert b.relation_ids('database') == [1]
    assert b.relation_ids('nope') == []
    assert b.relation_list(1) == ['web/0']
    assert b.relation_remote_app_name(1) == 'web'
    assert b.relation_get(1, 'web', is_app=True) == {'want': 'users'}
    assert b.relation_get(1, 'web/0', is_app=False) == {'ip': '10.0.0.9'}
    b.relation_set(1, {'host': 'db.svc', 'port': '5432'}, is_app=True)
    b.relation_set(1, {'ready': 'yes'}, is_app=False)
    assert b.relation_get(1, 'db', is_app=True) == {'host': 'db.svc', 'port': '5432'}
    assert b.relation_get(1, 'db/0', is_app=False) == {'ready': 'yes'}
    assert b.relation_model_get(1) == {'uuid': '5b1f2c3d-0000-4000-8000-000000000001'}

    b.status_set('maintenance', 'configuring')
    assert b.status_get() == {'status': 'maintenance', 'message': 'configuring'}
    b.status_set('active', 'ready', is_app=True)
    assert b.status_get(is_app=True) == {'status': 'active', 'message': 'ready'}
    assert b.planned_units() == 2
    b.application_version_set('1.2.3')
    # ops' controller-side stored state (use_juju_for_storage) goes through state-*.
    from ops.storage import JujuStorage

    store = JujuStorage()
    store.save_snapshot('Charm/StoredState[_stored]', {'n': 1, 's': 'x: y'})
    assert store.load_snapshot('Charm/StoredState[_stored]') == {'n': 1, 's': 'x: y'}
    b.juju_log('INFO', 'hello from ops')

    uri = b.secret_add({'password': 's3cret', 'username': 'admin'}, label='creds',
                       description='db creds', rotate=ops.SecretRotate.DAILY,
                       owner='application')
    assert uri.startswith('secret:'), uri
    assert b.secret_get(id=uri) == {'password': 's3cret', 'username': 'admin'}
    assert b.secret_get(label='creds') == {'password': 's3cret', 'username': 'admin'}
    info = b.secret_info_get(id=uri)
    assert info.label == 'creds' and info.revision == 1, info
    assert info.rotation == ops.SecretRotate.DAILY, info.rotation
    assert info.description == 'db creds'
    b.secret_grant(uri, 1)
    try:
        b.secret_get(id='secret:cvh7dpvmp25c77ohv1ag')
        raise AssertionError('missing secret read')
    except SecretNotFoundError:
        pass

    net = b.network_get('database')
    assert net['ingress-addresses'] == ['127.0.0.1'], net
    assert net['bind-addresses'][0]['addresses'][0]['value'] == '127.0.0.1', net
    assert b.storage_list('data') == [0]
    assert str(b.storage_get('data/0', 'location')) == '/tmp/sim/db-0/data'
    b.open_port('tcp', 8080)
    b.open_port('udp', 53)
    assert b.opened_ports() == {ops.Port('tcp', 8080), ops.Port('udp', 53)}, b.opened_ports()
    try:
        b.action_get()
        raise AssertionError('action-get outside an action')
    except ModelError as e:
        assert 'not running an action' in str(e), e
    try:
        b.credential_get()
        raise AssertionError('credential-get without trust')
    except ModelError as e:
        assert 'permission denied' in str(e), e
elif mode == 'follower':
    assert b.is_leader() is False
    try:
        b.relation_set(1, {'k': 'v'}, is_app=True)
        raise AssertionError('non-leader wrote the app databag')
    except ModelError as e:
        assert 'cannot write relation settings' in str(e), e
    try:
        b.relation_get(1, 'db', is_app=True)
        raise AssertionError('non-leader read its own app databag')
    except ModelError as e:
        assert 'permission denied' in str(e), e
    try:
        b.status_set('active', '', is_app=True)
        raise AssertionError('non-leader set the app status')
    except ModelError as e:
        assert 'not the leader' in str(e), e
    assert b.relation_get(1, 'web', is_app=True) == {'want': 'users'}
    try:
        b.relation_list(7)
        raise AssertionError('unknown relation listed')
    except ops.RelationNotFoundError:
        pass
else:
    raise SystemExit(f'unknown mode {mode}')
print('OK')
