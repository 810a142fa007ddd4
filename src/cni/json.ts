/** Reference plugins print JSON indented by four spaces; jailnet's plugins do too. */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value, null, 4);
}
