import type { Tag } from '../model/kms-model.generated.js';
import { KmsError } from './errors.js';
import type { TagRecord } from './ports.js';

/** AWS quota "Tags per KMS key" (developerguide/resource-limits.html). */
export const MAX_TAGS_PER_KEY = 50;

export function tagLimitExceeded(keyArn: string): KmsError {
  return new KmsError('LimitExceededException', `The KMS key ${keyArn} cannot have more than ${MAX_TAGS_PER_KEY} tags.`);
}

/** Tag keys in UntagResource: the aws: prefix is reserved there too. */
export function checkTagKeys(keys: readonly string[]): void {
  for (const k of keys) if (k.toLowerCase().startsWith('aws:')) throw new KmsError('TagException', 'Tags beginning with aws: are reserved');
}

/** CreateKey (and ReplicateKey) with more tags than a key may have: AWS answers this (recorded against AWS KMS). */
export function checkTagCount(tags: readonly Tag[]): void {
  if (tags.length > MAX_TAGS_PER_KEY) throw new KmsError('TagException', 'Too many tags');
}

/** AWS's tag rules beyond the model's lengths: no aws: prefix, no duplicate keys in one request (AWS's messages). */
export function checkTags(tags: readonly Tag[]): TagRecord[] {
  const seen = new Set<string>();
  for (const t of tags) {
    if (t.TagKey.toLowerCase().startsWith('aws:')) throw new KmsError('TagException', 'Tags beginning with aws: are reserved');
    if (seen.has(t.TagKey)) throw new KmsError('TagException', 'Duplicate tag keys');
    seen.add(t.TagKey);
  }
  return tags.map((t) => ({ key: t.TagKey, value: t.TagValue }));
}
