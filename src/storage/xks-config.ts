import type { XksProxySettings } from '../domain/ports.js';

/** An EXTERNAL_KEY_STORE's proxy settings as both backends store them (column xks_config): JSON, the wrapped secret in Base64. */
export function encodeXksConfig(x: XksProxySettings | undefined): string | null {
  if (!x) return null;
  return JSON.stringify({
    uriEndpoint: x.uriEndpoint, uriPath: x.uriPath, connectivity: x.connectivity, accessKeyId: x.accessKeyId, secretWrapped: x.secretWrapped.toString('base64'),
  });
}

export function decodeXksConfig(text: string | null | undefined): XksProxySettings | undefined {
  if (text === null || text === undefined) return undefined;
  const v = JSON.parse(text) as Record<string, string>;
  return {
    uriEndpoint: v.uriEndpoint!, uriPath: v.uriPath!, connectivity: v.connectivity as XksProxySettings['connectivity'], accessKeyId: v.accessKeyId!,
    secretWrapped: Buffer.from(v.secretWrapped!, 'base64'),
  };
}
