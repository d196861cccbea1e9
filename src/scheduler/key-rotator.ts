import { rotateKeyMaterial, type RotationServices } from '../domain/rotation.js';

/**
 * Automatic rotation: rotates, for real, every Enabled key whose automatic rotation is due (next rotation date at or
 * before the clock's now). A key that is disabled or pending deletion is skipped while it is so; once it is enabled
 * again (or its deletion cancelled) with a rotation date in the past, the next run rotates it at once, as AWS does.
 */
export class KeyRotator {
  constructor(
    private readonly svc: RotationServices,
    private readonly onRotated: (arn: string, materialId: string) => void = () => {},
  ) {}

  /** One pass; returns the ARNs rotated. */
  async rotateDue(): Promise<string[]> {
    const rotated: string[] = [];
    for (let pass = 0; pass < 1000; pass++) {
      const now = this.svc.clock.now();
      const due = await this.svc.keys.storage.listKeysDueForRotation(now, 100);
      let progress = false;
      for (const key of due) {
        // Compare-and-set on the key's version: a key changed since it was listed is re-read and re-checked.
        const stored = await rotateKeyMaterial(this.svc, key, 'AUTOMATIC', (current, at) =>
          current.keyState === 'Enabled' && current.nextRotationDate !== undefined && current.nextRotationDate.getTime() <= at.getTime(),
        );
        if (!stored) continue;
        rotated.push(stored.arn);
        this.onRotated(stored.arn, stored.currentMaterialId!);
        progress = true;
      }
      if (!progress) break;
    }
    return rotated;
  }
}
