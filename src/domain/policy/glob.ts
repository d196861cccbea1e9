/** IAM wildcard matching: '*' is any run of characters (also empty), '?' is one character; nothing else is special. */
export function globMatcher(pattern: string, caseInsensitive: boolean): (s: string) => boolean {
  if (pattern === '*') return () => true;
  if (!pattern.includes('*') && !pattern.includes('?')) {
    if (!caseInsensitive) return (s) => s === pattern;
    const lower = pattern.toLowerCase();
    return (s) => s.length === lower.length && s.toLowerCase() === lower;
  }
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  const re = new RegExp(`^${source}$`, caseInsensitive ? 'is' : 's');
  return (s) => re.test(s);
}
