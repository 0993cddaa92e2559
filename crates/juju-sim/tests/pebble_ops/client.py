"""Drives the juju-sim Pebble server with ops' own Pebble client (unmodified, from PyPI).

Usage: python client.py SOCKET. Prints OK when every expectation holds; raises otherwise.
"""

import sys

import ops.pebble as pebble

c = pebble.Client(socket_path=sys.argv[1])

info = c.get_system_info()
assert info.version, info

# Layers: add, refuse a duplicate label, combine with override merge.
c.add_layer(
    'base',
    {
        'summary': 'base layer',
        'services': {
            'web': {
                'override': 'replace',
                'command': '/bin/web --port 8080',
                'startup': 'enabled',
                'environment': {'A': '1'},
            },
            'job': {'override': 'replace', 'command': '/bin/job'},
        },
        'checks': {
            'alive': {
                'override': 'replace',
                'level': 'alive',
                'http': {'url': 'http://localhost:8080/health'},
            },
        },
    },
)
try:
    c.add_layer('base', 'services: {}\n')
    raise AssertionError('duplicate label accepted')
except pebble.APIError as e:
    assert e.code == 400 and 'already exists' in e.message, e
c.add_layer(
    'base',
    {'services': {'web': {'override': 'merge', 'environment': {'B': '2'}}}},
    combine=True,
)
try:
    c.add_layer('bad', {'services': {'x': {'command': 'x'}}})
    raise AssertionError('layer without override accepted')
except pebble.APIError as e:
    assert 'must define "override"' in e.message, e

plan = c.get_plan()
web = plan.services['web']
assert web.command == '/bin/web --port 8080', web
assert web.environment == {'A': '1', 'B': '2'}, web.environment
assert plan.checks['alive'].level == pebble.CheckLevel.ALIVE, plan.checks

# Services: replan starts the enabled one; start/stop/restart wait on changes.
c.replan_services()
services = {s.name: s for s in c.get_services()}
assert services['web'].is_running(), services
assert not services['job'].is_running(), services
assert services['job'].startup == pebble.ServiceStartup.DISABLED
c.start_services(['job'])
assert c.get_services(['job'])[0].current == pebble.ServiceStatus.ACTIVE
c.stop_services(['job'])
assert c.get_services(['job'])[0].current == pebble.ServiceStatus.INACTIVE
c.restart_services(['web'])
change_id = c.autostart_services(timeout=0)
change = c.wait_change(change_id)
assert change.ready and change.status == 'Done', change
assert c.get_change(change_id).id == change_id
try:
    c.start_services(['ghost'])
    raise AssertionError('unknown service started')
except pebble.APIError as e:
    assert e.code == 400, e

# Checks.
checks = c.get_checks()
assert [ch.name for ch in checks] == ['alive'], checks
assert checks[0].status == pebble.CheckStatus.UP
assert checks[0].threshold == 3
assert c.get_checks(level=pebble.CheckLevel.READY) == []
assert len(c.get_checks(names=['alive'])) == 1

# Files: push with permissions and owner, pull text and bytes, list, mkdir, remove.
c.push('/etc/app/conf.yaml', 'port: 8080\n', make_dirs=True, permissions=0o600,
       user='app', user_id=1000, group='app', group_id=1000)
with c.pull('/etc/app/conf.yaml') as f:
    assert f.read() == 'port: 8080\n'
blob = bytes(range(256)) * 64
c.push('/data/blob.bin', blob, make_dirs=True)
with c.pull('/data/blob.bin', encoding=None) as f:
    assert f.read() == blob
files = c.list_files('/etc/app')
assert [fi.name for fi in files] == ['conf.yaml'], files
fi = files[0]
assert fi.type == pebble.FileType.FILE and fi.size == 11, fi
assert fi.permissions == 0o600, oct(fi.permissions)
assert fi.user == 'app' and fi.user_id == 1000 and fi.group == 'app', fi
assert fi.last_modified is not None
assert c.list_files('/etc/app', pattern='*.json') == []
itself = c.list_files('/etc/app', itself=True)
assert itself[0].type == pebble.FileType.DIRECTORY and itself[0].path == '/etc/app', itself
c.make_dir('/var/lib/app/cache', make_parents=True, permissions=0o700)
assert c.list_files('/var/lib/app/cache', itself=True)[0].permissions == 0o700
try:
    c.make_dir('/var/lib/app/cache')
    raise AssertionError('existing directory created')
except pebble.PathError as e:
    assert e.kind == 'generic-file-error', e
try:
    c.pull('/nope')
    raise AssertionError('missing file pulled')
except pebble.PathError as e:
    assert e.kind == 'not-found', e
try:
    c.list_files('/nope')
    raise AssertionError('missing path listed')
except pebble.APIError as e:
    assert e.code == 404, e
try:
    c.remove_path('/var/lib')
    raise AssertionError('non-empty directory removed')
except pebble.PathError as e:
    assert e.kind == 'generic-file-error', e
c.remove_path('/var/lib', recursive=True)
assert c.list_files('/var') == []

assert c.get_notices() == []
print('OK')
