#!/usr/bin/env python3
"""juju-sim fidelity charm: plain ops, nothing simulator-specific."""

import ops


class OpsTestCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        for event in (
            self.on.config_changed,
            self.on.web_pebble_ready,
            self.on.info_relation_changed,
            self.on.info_relation_joined,
            self.on.secret_changed,
            self.on.update_status,
            self.on.leader_elected,
        ):
            framework.observe(event, self._reconcile)
        framework.observe(self.on.plan_action, self._on_plan_action)

    def _token(self):
        uri = self.config.get("token-secret")
        if not uri:
            return None
        secret = self.model.get_secret(id=uri)
        return secret.get_content(refresh=True)["token"]

    def _reconcile(self, event):
        name = self.config["name"]
        acks = []
        for rel in self.model.relations["info"]:
            rel.data[self.unit]["unit"] = self.unit.name
            if self.unit.is_leader():
                rel.data[self.app]["greeting"] = name
            if rel.app is not None:
                ack = rel.data[rel.app].get("ack")
                if ack:
                    acks.append(ack)
        token = self._token()
        container = self.unit.get_container("web")
        if not container.can_connect():
            self.unit.status = ops.WaitingStatus("waiting for Pebble")
            return
        layer = ops.pebble.Layer(
            {
                "summary": "web",
                "services": {
                    "web": {
                        "override": "replace",
                        "summary": "web server",
                        "command": f"/usr/sbin/nginx -g 'daemon off;' --name {name}",
                        "startup": "enabled",
                        "environment": {"TOKEN_FILE": "/etc/web/token"},
                    }
                },
            }
        )
        container.add_layer("web", layer, combine=True)
        if token is not None:
            container.push("/etc/web/token", token, make_dirs=True, permissions=0o600)
        container.replan()
        running = container.get_service("web").is_running()
        self.unit.status = ops.ActiveStatus(
            f"name={name} acks={','.join(acks) or '-'} token={'yes' if token else 'no'} running={running}"
        )
        if self.unit.is_leader():
            self.app.status = ops.ActiveStatus(f"serving {name}")

    def _on_plan_action(self, event: ops.ActionEvent):
        container = self.unit.get_container("web")
        plan = container.get_plan()
        event.set_results({"command": plan.services["web"].command})


if __name__ == "__main__":
    ops.main(OpsTestCharm)
