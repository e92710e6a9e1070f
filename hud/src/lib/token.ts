/** This device's pairing token, kept in the browser (localStorage). */

const KEY = 'jarvis.deviceToken';

export function loadToken(): string | undefined {
  try {
    return localStorage.getItem(KEY) ?? undefined;
  } catch {
    return undefined; // storage disabled: the device pairs again after a reload
  }
}

export function saveToken(token: string): void {
  try {
    localStorage.setItem(KEY, token);
  } catch {
    // kept for this page's life only
  }
}

export function forgetToken(): void {
  try {
    localStorage.removeItem(KEY);
  } catch {
    // nothing stored
  }
}
