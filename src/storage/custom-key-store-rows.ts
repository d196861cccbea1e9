import type { CustomKeyStoreRecord } from '../domain/ports.js';
import { decodeXksConfig } from './xks-config.js';

/** A custom_key_stores row as both backends return it (PostgreSQL's bigint columns come back as strings). */
export interface CustomKeyStoreRow {
  account: string; region: string; custom_key_store_id: string; name: string; store_type: string;
  cloud_hsm_cluster_id: string | null; trust_anchor_certificate: string | null; password_wrapped: Buffer | null;
  connection_state: string; connection_error_code: string | null; creation_date: number | string; version: number | string; xks_config: string | null;
}

export const CKS_COLUMNS =
  'account, region, custom_key_store_id, name, store_type, cloud_hsm_cluster_id, trust_anchor_certificate, password_wrapped, connection_state, connection_error_code, creation_date, version, xks_config';

export const toCustomKeyStore = (r: CustomKeyStoreRow): CustomKeyStoreRecord => ({
  account: r.account, region: r.region, customKeyStoreId: r.custom_key_store_id, name: r.name,
  type: r.store_type as CustomKeyStoreRecord['type'],
  ...(r.cloud_hsm_cluster_id !== null && { cloudHsmClusterId: r.cloud_hsm_cluster_id }),
  ...(r.trust_anchor_certificate !== null && { trustAnchorCertificate: r.trust_anchor_certificate }),
  ...(r.password_wrapped !== null && { passwordWrapped: r.password_wrapped }),
  ...(r.xks_config !== null && { xks: decodeXksConfig(r.xks_config) }),
  connectionState: r.connection_state as CustomKeyStoreRecord['connectionState'],
  ...(r.connection_error_code !== null && { connectionErrorCode: r.connection_error_code as CustomKeyStoreRecord['connectionErrorCode'] }),
  creationDate: new Date(Number(r.creation_date)), version: Number(r.version),
});
