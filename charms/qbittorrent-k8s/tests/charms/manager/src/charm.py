#!/usr/bin/env python3
"""A media-manager stand-in: publishes its data with charmarr-lib-core's requirer and reads
every provider's `config` with the library's model, then the granted credentials secret.

The unit status reports what it read, for the test to compare: the client, the API URL, the
username and the SHA-256 of the password (never the password itself)."""

import hashlib

import ops
from charmarr_lib.core.enums import MediaManager
from charmarr_lib.core.interfaces import (
    DownloadClientProviderData,
    DownloadClientRequirer,
    DownloadClientRequirerData,
)


class ManagerCharm(ops.CharmBase):
    def __init__(self, framework):
        super().__init__(framework)
        self._requirer = DownloadClientRequirer(self, "download-client")
        for event in (
            self.on.install,
            self.on.config_changed,
            self.on["download-client"].relation_created,
            self.on["download-client"].relation_changed,
            self.on.secret_changed,
        ):
            framework.observe(event, self._reconcile)

    def _publish(self):
        if not self.unit.is_leader():
            return
        raw = str(self.config.get("data", ""))
        if raw:
            for relation in self.model.relations["download-client"]:
                relation.data[self.app]["config"] = raw
        else:
            self._requirer.publish_data(
                DownloadClientRequirerData(
                    manager=MediaManager.RADARR, instance_name=self.app.name
                )
            )

    def _reconcile(self, _event):
        self._publish()
        seen = []
        for relation in self.model.relations["download-client"]:
            text = relation.data[relation.app].get("config") if relation.app else None
            if not text:
                continue
            # Strict: a value the library's model refuses fails the hook, visibly.
            data = DownloadClientProviderData.model_validate_json(text)
            secret = self.model.get_secret(id=data.credentials_secret_id)
            content = secret.get_content(refresh=True)
            digest = hashlib.sha256(content["password"].encode()).hexdigest()
            seen.append(
                f"client={data.client.value} type={data.client_type.value} "
                f"url={data.api_url} instance={data.instance_name} "
                f"base={data.base_path} user={content['username']} pw={digest}"
            )
        if seen:
            self.unit.status = ops.ActiveStatus("; ".join(seen))
        else:
            self.unit.status = ops.WaitingStatus("no download client yet")


if __name__ == "__main__":
    ops.main(ManagerCharm)
