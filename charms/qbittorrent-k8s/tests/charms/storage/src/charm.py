#!/usr/bin/env python3
"""A charmarr-storage-k8s stand-in: publishes the shared claim with charmarr-lib-core's
provider (as the real charm does once its permission check passed)."""

import ops
from charmarr_lib.core.interfaces import MediaStorageProvider, MediaStorageProviderData


class StorageCharm(ops.CharmBase):
    def __init__(self, framework):
        super().__init__(framework)
        self._provider = MediaStorageProvider(self, "media-storage")
        for event in (
            self.on.install,
            self.on.config_changed,
            self.on["media-storage"].relation_created,
            self.on["media-storage"].relation_changed,
        ):
            framework.observe(event, self._reconcile)

    def _reconcile(self, _event):
        if self.unit.is_leader():
            raw = str(self.config.get("data", ""))
            if raw:
                for relation in self.model.relations["media-storage"]:
                    relation.data[self.app]["config"] = raw
            else:
                self._provider.publish_data(
                    MediaStorageProviderData(
                        pvc_name="charmarr-shared-media",
                        mount_path=str(self.config.get("mount-path", "/data")),
                        puid=1000,
                        pgid=1000,
                    )
                )
        self.unit.status = ops.ActiveStatus()


if __name__ == "__main__":
    ops.main(StorageCharm)
