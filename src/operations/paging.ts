import { KmsError, validationError } from '../domain/errors.js';

/**
 * Limit/Marker paging as AWS does it: `Limit` within the operation's own range (the model only knows 1–1000),
 * `NextMarker` opaque and only present with `Truncated: true`. A marker Trent did not hand out for this listing
 * is an InvalidMarkerException.
 */
export function pageLimit(limit: number | undefined, defaultLimit: number, maxLimit: number): number {
  if (limit === undefined) return defaultLimit;
  if (limit > maxLimit) {
    throw validationError(`1 validation error detected: Value '${limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to ${maxLimit}`);
  }
  return limit;
}

/** Markers are base64url("<listing>:<sort key of the last item returned>"). */
export function encodeMarker(listing: string, lastSortKey: string): string {
  return Buffer.from(`${listing}:${lastSortKey}`, 'utf8').toString('base64url');
}

export function decodeMarker(listing: string, marker: string | undefined, valid: (sortKey: string) => boolean): string | undefined {
  if (marker === undefined) return undefined;
  const text = /^[A-Za-z0-9_-]+$/.test(marker) ? Buffer.from(marker, 'base64url').toString('utf8') : '';
  const prefix = `${listing}:`;
  const sortKey = text.startsWith(prefix) ? text.slice(prefix.length) : undefined;
  if (sortKey === undefined || !valid(sortKey)) {
    throw new KmsError('InvalidMarkerException', 'The request was rejected because the marker that specifies where pagination should next begin is not valid.');
  }
  return sortKey;
}

/** The paging fields of a response: NextMarker and Truncated true when more follow, Truncated false otherwise. */
export function pageFields(listing: string, next: string | undefined): { NextMarker?: string; Truncated: boolean } {
  return next === undefined ? { Truncated: false } : { NextMarker: encodeMarker(listing, next), Truncated: true };
}
