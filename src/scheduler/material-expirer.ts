import { parseKeyReference } from '../domain/arn.js';
import type { KeyRepository } from '../domain/key-repository.js';
import type { Clock } from '../domain/ports.js';
import { isErased } from '../domain/ports.js';

/**
 * Expiry of imported key material (ExpirationModel KEY_MATERIAL_EXPIRES): once a material's ValidTo has passed, its
 * wrapped bytes are erased from the store and the key goes to PendingImport (importing-keys-delete-key-material.html:
 * "When imported key material expires, AWS KMS deletes the key material and the KMS key becomes unusable").
 * Importing the same material again brings the key back. A leased job: one node of a shared store runs it.
 */
export class MaterialExpirer {
  constructor(
    private readonly keys: KeyRepository,
    private readonly clock: Clock,
    private readonly onExpired: (arn: string, materialId: string) => void = () => {},
  ) {}

  /** One pass; returns `arn/materialId` of every material erased. */
  async expireDue(): Promise<string[]> {
    const expired: string[] = [];
    for (let pass = 0; pass < 1000; pass++) {
      const due = await this.keys.storage.listMaterialsDueForExpiry(this.clock.now(), 100);
      if (due.length === 0) break;
      let progress = false;
      for (const m of due) {
        const ref = parseKeyReference(m.keyArn);
        if (ref?.kind !== 'keyArn') continue;
        let erasedIds: readonly string[] = [];
        await this.keys.eraseMaterials(ref.scope, ref.keyId, (key, materials) => {
          const now = this.clock.now().getTime();
          // Re-checked on the freshest rows: a re-import may have moved ValidTo since the listing.
          const ids = materials.filter((x) => !isErased(x) && x.validTo !== undefined && x.validTo.getTime() <= now).map((x) => x.materialId);
          erasedIds = ids;
          if (ids.length === 0) return undefined;
          const keyState = key.keyState === 'Enabled' || key.keyState === 'Disabled' ? 'PendingImport' : key.keyState;
          return { key: { ...key, keyState }, materialIds: ids };
        });
        for (const id of erasedIds) {
          expired.push(`${m.keyArn}/${id}`);
          this.onExpired(m.keyArn, id);
          progress = true;
        }
      }
      if (!progress) break;
    }
    return expired;
  }
}
