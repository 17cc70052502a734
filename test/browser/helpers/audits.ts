/**
 * The checks run on every page state. Each returns a list of problems in
 * words (empty when the page passes), so one run reports everything wrong
 * with a state rather than stopping at the first failure.
 *
 * Code passed to page.evaluate runs inside the page, in the browser.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { changedPixels, contrast, decodePng, luminance } from './png.js';

export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];

/** The desktop viewport the default screenshots and checks use. */
export const DESKTOP = { width: 1024, height: 768 };
/** 320 CSS px: WCAG 1.4.10 reflow, the width of a 1280 px window at 400% zoom. */
export const NARROW = { width: 320, height: 640 };

/**
 * A new browser context ready for the checks. tsx compiles this suite with
 * esbuild's keepNames, which wraps named functions in a `__name(...)` call;
 * functions sent to page.evaluate need that helper in the page too. It is
 * added through the DevTools protocol (an init script), not by the page, so
 * the site's CSP is untouched and no script appears in its DOM.
 */
export async function newContext(browser: Browser, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: DESKTOP, reducedMotion: 'reduce', ...options });
  await context.addInitScript({ content: 'globalThis.__name = globalThis.__name || ((target) => target);' });
  return context;
}

// ---------------------------------------------------------------------------
// Console, CSP and network

export interface Navigation {
  url: string;
  status: number;
  csp: string;
}

/**
 * Watches a page from the moment it opens: console errors and warnings, CSP
 * violations (reported both to the console and as securitypolicyviolation
 * events), script errors, failed requests and error statuses of anything but
 * the page itself.
 */
export class PageWatch {
  readonly navigations: Navigation[] = [];
  /** Things noticed that are not failures of this suite (printed as diagnostics). */
  private readonly raw: string[] = [];
  private readonly consoleErrors: Array<{ text: string; url: string }> = [];

  static async attach(page: Page): Promise<PageWatch> {
    const watch = new PageWatch();
    await page.exposeBinding('__reportCspViolation', (_source, detail: string) => {
      watch.raw.push(`CSP violation: ${detail}`);
    });
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        const report = (window as unknown as { __reportCspViolation?: (detail: string) => void }).__reportCspViolation;
        report?.(`${event.effectiveDirective} blocked ${event.blockedURI || 'inline code'} on ${event.documentURI}`);
      });
    });
    page.on('console', (message) => {
      const type = message.type();
      if (type === 'error') watch.consoleErrors.push({ text: message.text(), url: message.location().url });
      else if (/content security policy/i.test(message.text())) watch.raw.push(`console ${type}: ${message.text()}`);
    });
    page.on('pageerror', (error) => watch.raw.push(`script error: ${error.message}`));
    page.on('requestfailed', (request) => {
      const reason = request.failure()?.errorText ?? 'unknown';
      // The browser drops the icon's low-priority fetch when the test navigates on quickly; that is not a fault of the page.
      if (reason === 'net::ERR_ABORTED' && new URL(request.url()).pathname === '/static/favicon.svg') return;
      watch.raw.push(`request failed: ${request.method()} ${request.url()} (${reason})`);
    });
    page.on('response', (response) => {
      const request = response.request();
      if (request.isNavigationRequest() && response.frame() === page.mainFrame()) {
        if (response.status() >= 300 && response.status() < 400) return;
        // Recorded at once (headers() is synchronous), so the page's own status is known as soon as it has loaded.
        watch.navigations.push({ url: response.url(), status: response.status(), csp: response.headers()['content-security-policy'] ?? '' });
      } else if (response.status() >= 400) {
        watch.raw.push(`${request.method()} ${response.url()} answered ${response.status()}`);
      }
    });
    return watch;
  }

  /** The last page shown in the main frame. */
  get document(): Navigation | undefined {
    return this.navigations.at(-1);
  }

  problems(): string[] {
    const problems = [...this.raw];
    for (const { text, url } of this.consoleErrors) {
      const status = /Failed to load resource: the server responded with a status of (\d+)/.exec(text)?.[1];
      // Chrome logs an error page's own status (a 404 page, a 400 form page) as a console error; that is the page working as designed.
      if (status !== undefined && this.navigations.some((n) => n.url === url && String(n.status) === status)) continue;
      problems.push(`console error: ${text}${url ? ` (${url})` : ''}`);
    }
    for (const n of this.navigations) {
      if (!/script-src 'none'/.test(n.csp) && !/script-src 'self'/.test(n.csp)) problems.push(`${n.url}: the Content-Security-Policy does not restrict scripts (${n.csp || 'no header'})`);
      if (/'unsafe-inline'|'unsafe-eval'/.test(n.csp)) problems.push(`${n.url}: the Content-Security-Policy allows inline code (${n.csp})`);
    }
    return problems;
  }
}

// ---------------------------------------------------------------------------
// axe

/**
 * Rules run again at 320 px, where the layout changes what they judge: target
 * sizes and spacing (the navigation wraps, the filter stacks) and scrolling
 * regions. The full set runs at desktop width; the other rules judge markup
 * and colours, which are the same at every width.
 */
export const LAYOUT_RULES = ['target-size', 'scrollable-region-focusable'];

export async function axeProblems(page: Page, rules?: string[]): Promise<string[]> {
  // No rule is disabled: every rule with these tags runs, color-contrast and target-size included.
  const builder = new AxeBuilder({ page });
  const results = await (rules ? builder.withRules(rules) : builder.withTags(AXE_TAGS)).analyze();
  const problems = results.violations.map((v) => {
    const nodes = v.nodes
      .slice(0, 5)
      .map((n) => `${n.target.join(' ')}: ${n.failureSummary?.replace(/\s+/g, ' ') ?? ''}`)
      .join(' | ');
    return `axe ${v.id} (${v.impact ?? 'no impact'}, ${v.nodes.length} element(s)): ${v.help}. ${nodes}`;
  });
  // Colour contrast or target size that axe could not decide is a failure too, with one exception: text
  // scrolled out of sight inside the table's own scrolling region ("partially obscured"), which axe cannot
  // see. The same cells are in view, and checked, at desktop width.
  for (const v of results.incomplete) {
    if (v.id !== 'color-contrast' && v.id !== 'target-size') continue;
    const undecided: string[] = [];
    for (const n of v.nodes) {
      const data = n.any[0]?.data as { messageKey?: string } | null | undefined;
      const selector = n.target.join(' ');
      const inTableRegion =
        data?.messageKey === 'elmPartiallyObscured' && (await page.evaluate((s) => document.querySelector(s)?.closest('.table-region') != null, selector));
      if (!inTableRegion) undecided.push(`${selector} (${n.any[0]?.message ?? ''})`);
    }
    if (undecided.length > 0) problems.push(`axe could not decide ${v.id} for ${undecided.length} element(s): ${undecided.slice(0, 5).join(' | ')}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------
// The page's structure and its code

export interface Structure {
  title: string;
  h1: string;
  activeElement: string;
  problems: string[];
}

/**
 * The shell every page must have (WCAG 1.3.1, 2.4.1, 2.4.2, 3.1.1) and the
 * absence of inline code: no inline script or style, no event-handler
 * attributes, no javascript: URLs.
 */
export async function structureOf(page: Page): Promise<Structure> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const origin = location.origin;
    const text = (el: Element | null) => (el?.textContent ?? '').replace(/\s+/g, ' ').trim();
    if (document.documentElement.getAttribute('lang') !== 'en') problems.push('<html> does not have lang="en"');
    const title = document.title;
    if (!/\S - GLOW Companion$/.test(title)) problems.push(`the title "${title}" does not name the page and then the site`);
    const h1s = document.querySelectorAll('h1');
    if (h1s.length !== 1) problems.push(`${h1s.length} h1 elements (there must be exactly one)`);
    const mains = document.querySelectorAll('main');
    if (mains.length !== 1 || mains[0]!.id !== 'main-content') problems.push('there must be one <main id="main-content">');
    for (const [selector, what] of [
      ['body > header', 'a banner landmark (body > header)'],
      ['header nav[aria-label]', 'a labelled nav landmark in the header'],
      ['body > footer', 'a contentinfo landmark (body > footer)'],
    ] as const) {
      if (document.querySelectorAll(selector).length !== 1) problems.push(`the page needs exactly one ${what}`);
    }
    // WCAG 3.2.6: help in the same place on every page.
    if (text(document.querySelector('body > footer h2')) !== 'Help') problems.push('the footer does not start with the "Help" heading');
    const focusable = [...document.querySelectorAll<HTMLElement>('a[href], button, input:not([type="hidden"]), select, textarea, [tabindex]')].filter(
      (el) => el.tabIndex >= 0 && !el.hasAttribute('disabled'),
    );
    const first = focusable[0];
    if (!first || first.getAttribute('href') !== '#main-content' || text(first) !== 'Skip to main content') {
      problems.push(`the first focusable element is not the "Skip to main content" link (it is ${first ? first.outerHTML.slice(0, 80) : 'missing'})`);
    }
    for (const el of document.querySelectorAll('[tabindex]')) {
      if (Number(el.getAttribute('tabindex')) > 0) problems.push(`a positive tabindex changes the focus order: ${el.outerHTML.slice(0, 80)}`);
    }
    // Inline code, which the CSP forbids and the site must not need.
    for (const script of document.querySelectorAll('script')) {
      if (!script.src) problems.push('an inline <script>');
      else if (new URL(script.src).origin !== origin) problems.push(`a script from another origin: ${script.src}`);
    }
    if (document.querySelectorAll('style').length > 0) problems.push('an inline <style> element');
    for (const el of document.querySelectorAll('*')) {
      for (const attribute of el.getAttributeNames()) {
        if (attribute === 'style') problems.push(`an inline style attribute on ${el.outerHTML.slice(0, 80)}`);
        if (attribute.startsWith('on')) problems.push(`an inline event handler ${attribute} on ${el.outerHTML.slice(0, 80)}`);
      }
    }
    for (const el of document.querySelectorAll<HTMLElement>('[href], [src], [action], [formaction]')) {
      const url = el.getAttribute('href') ?? el.getAttribute('src') ?? el.getAttribute('action') ?? el.getAttribute('formaction') ?? '';
      if (/^\s*javascript:/i.test(url)) problems.push(`a javascript: URL on ${el.outerHTML.slice(0, 80)}`);
    }
    for (const link of document.querySelectorAll<HTMLLinkElement>('link[rel~="stylesheet"]')) {
      if (new URL(link.href).origin !== origin) problems.push(`a stylesheet from another origin: ${link.href}`);
    }
    // No emoji (the spec forbids them; screen readers read them out by name).
    if (/\p{Extended_Pictographic}/u.test(document.body.innerText)) problems.push('the page shows an emoji');
    // Every link and button has a name, and links are not told apart by colour alone.
    for (const a of document.querySelectorAll<HTMLAnchorElement>('main a[href], footer a[href]')) {
      if (!getComputedStyle(a).textDecorationLine.includes('underline')) problems.push(`a link is not underlined: ${a.outerHTML.slice(0, 80)}`);
    }
    const active = document.activeElement;
    const activeElement = !active || active === document.body ? 'body' : `${active.tagName.toLowerCase()}${active.id ? `#${active.id}` : ''}${active.className ? `.${String(active.className).split(/\s+/).join('.')}` : ''}`;
    return { title, h1: text(h1s[0] ?? null), activeElement, problems };
  });
}

/**
 * Waits (up to `ms`) until the element `selector` finds has focus. Browsers
 * apply `autofocus` in a rendering update, which on a busy machine can come
 * after the load event that ends a navigation. Polled from here, not in the
 * page: the pages are tested with scripting off as well, where no timer or
 * animation frame of the page's runs. The caller checks focus afterwards.
 */
export async function focusSettled(page: Page, selector: string, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !(await page.evaluate((s) => document.activeElement === document.querySelector(s), selector))) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The error pattern after a failed submit: focus on the summary, the title
 * prefixed "Error: ", one summary link per invalid field, each pointing at a
 * field that is marked invalid and described by an inline message with the
 * same words.
 */
export async function errorPatternProblems(page: Page, expectedLinks: number): Promise<string[]> {
  await focusSettled(page, '.error-summary');
  return page.evaluate((expected) => {
    const problems: string[] = [];
    const text = (el: Element | null) => (el?.textContent ?? '').replace(/\s+/g, ' ').trim();
    if (!document.title.startsWith('Error: ')) problems.push(`the title "${document.title}" does not start with "Error: "`);
    const summary = document.querySelector('.error-summary');
    if (!summary) return [...problems, 'there is no error summary'];
    if (document.activeElement !== summary) problems.push(`focus is on ${document.activeElement?.tagName ?? 'nothing'}, not on the error summary`);
    if (summary.parentElement !== document.querySelector('main') || summary !== document.querySelector('main')!.firstElementChild) {
      problems.push('the error summary is not the first thing in main');
    }
    if (!summary.querySelector('[role="alert"]')) problems.push('the error summary has no role="alert" element');
    if (text(summary.querySelector('h2')) !== 'There is a problem') problems.push('the error summary heading is not "There is a problem"');
    const links = [...summary.querySelectorAll<HTMLAnchorElement>('a')];
    if (links.length !== expected) problems.push(`the error summary has ${links.length} links, expected ${expected}`);
    for (const link of links) {
      const id = (link.getAttribute('href') ?? '').replace(/^#/, '');
      const field = document.getElementById(id);
      if (!field) {
        problems.push(`the summary link "${text(link)}" points at #${id}, which does not exist`);
        continue;
      }
      if (field.getAttribute('aria-invalid') !== 'true') problems.push(`#${id} is not marked aria-invalid="true"`);
      const describer = field.closest('fieldset') ?? field;
      const described = (describer.getAttribute('aria-describedby') ?? '').split(/\s+/).map((ref) => text(document.getElementById(ref)));
      if (!described.includes(`Error: ${text(link)}`)) {
        problems.push(`#${id} is not described by an inline message reading "Error: ${text(link)}" (it is described by: ${JSON.stringify(described)})`);
      }
    }
    return problems;
  }, expectedLinks);
}

// ---------------------------------------------------------------------------
// Reflow (WCAG 1.4.10)

/** At the current (narrow) viewport: nothing scrolls sideways but a labelled, focusable table region. */
export async function reflowProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const describe = (el: Element) =>
      `<${el.tagName.toLowerCase()}${el.id ? ` id="${el.id}"` : ''}${el.className ? ` class="${String(el.className)}"` : ''}> "${(el.textContent ?? '').replace(/\s+/g, ' ').trim().slice(0, 40)}"`;
    const doc = document.documentElement;
    const width = doc.clientWidth;
    if (doc.scrollWidth > width) problems.push(`the page scrolls sideways at ${width} CSS px: it is ${doc.scrollWidth} px wide`);
    const scrolls = (el: Element) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
    const insideScroller = (el: Element) => {
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) if (scrolls(p)) return true;
      return false;
    };
    for (const el of document.body.querySelectorAll('*')) {
      if (el.closest('.visually-hidden')) continue;
      const style = getComputedStyle(el);
      if (style.display === 'none' || style.visibility === 'hidden') continue;
      const overflowing = el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0;
      if (scrolls(el) && overflowing) {
        const labelledBy = (el.getAttribute('aria-labelledby') ?? '').split(/\s+/).map((id) => document.getElementById(id)?.textContent?.trim() ?? '').join(' ').trim();
        if (!el.classList.contains('table-region') || el.getAttribute('role') !== 'region' || el.getAttribute('tabindex') !== '0' || labelledBy === '') {
          problems.push(`${describe(el)} scrolls sideways but is not the labelled, focusable table region`);
        }
        continue;
      }
      if (['hidden', 'clip'].includes(style.overflowX) && overflowing && !el.matches('input, select, textarea')) problems.push(`${describe(el)} cuts off ${el.scrollWidth - el.clientWidth} px of its content`);
      const rect = el.getBoundingClientRect();
      if (rect.width === 0 || rect.height === 0 || rect.bottom <= 0) continue; // not shown (the skip link waits above the page)
      if ((rect.right > width + 1 || rect.left < -1) && !insideScroller(el)) {
        problems.push(`${describe(el)} runs off the side of a ${width} px screen (from ${Math.round(rect.left)} to ${Math.round(rect.right)} px)`);
      }
    }
    return problems;
  });
}

// ---------------------------------------------------------------------------
// Control boundaries (WCAG 1.4.11)

/**
 * Every form control and button can be told apart from what is behind it
 * with at least 3:1 contrast: through its fill or through its border. A
 * native radio is drawn by the browser, so its pixels are measured instead.
 */
export async function controlContrastProblems(page: Page): Promise<string[]> {
  const problems = await page.evaluate(() => {
    const out: string[] = [];
    const rgb = (value: string) => (value.match(/[\d.]+/g) ?? []).map(Number);
    const lum = (value: string) => {
      const [r = 0, g = 0, b = 0] = rgb(value);
      const ch = (v: number) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b);
    };
    const ratio = (a: string, b: string) => {
      const [x, y] = [lum(a), lum(b)];
      return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
    };
    const transparent = (value: string) => value === 'transparent' || /rgba\(.*,\s*0\)$/.test(value);
    const behind = (el: Element | null): string => {
      for (let e = el; e; e = e.parentElement) {
        const bg = getComputedStyle(e).backgroundColor;
        if (!transparent(bg)) return bg;
      }
      return 'rgb(255, 255, 255)';
    };
    for (const el of document.querySelectorAll('input:not([type="hidden"]):not([type="radio"]):not([type="checkbox"]), select, textarea, button')) {
      const style = getComputedStyle(el);
      const back = behind(el.parentElement);
      const fill = style.backgroundColor;
      if (!transparent(fill) && ratio(fill, back) >= 3) continue;
      const weak = (['top', 'right', 'bottom', 'left'] as const).filter((side) => {
        const width = parseFloat(style.getPropertyValue(`border-${side}-width`));
        const color = style.getPropertyValue(`border-${side}-color`);
        return width < 1 || transparent(color) || ratio(color, back) < 3;
      });
      if (weak.length > 0) out.push(`<${el.tagName.toLowerCase()}${el.id ? ` id="${el.id}"` : ''}> "${(el.textContent ?? '').trim()}": neither its fill nor its ${weak.join(', ')} border has 3:1 contrast with ${back}`);
    }
    return out;
  });
  const radios = page.locator('input[type="radio"], input[type="checkbox"]');
  if ((await radios.count()) > 0) {
    const first = radios.first();
    const back = await first.evaluate((el) => {
      for (let e: Element | null = el.parentElement; e; e = e.parentElement) {
        const bg = getComputedStyle(e).backgroundColor;
        if (bg !== 'transparent' && !/rgba\(.*,\s*0\)$/.test(bg)) return (bg.match(/[\d.]+/g) ?? []).map(Number);
      }
      return [255, 255, 255];
    });
    const image = decodePng(await first.screenshot({ animations: 'disabled' }));
    const backLum = luminance(back[0] ?? 255, back[1] ?? 255, back[2] ?? 255);
    let best = 1;
    for (let i = 0; i < image.data.length; i += 4) best = Math.max(best, contrast(luminance(image.data[i]!, image.data[i + 1]!, image.data[i + 2]!), backLum));
    if (best < 3) problems.push(`the radio's ring has at most ${best.toFixed(2)}:1 contrast with the page behind it`);
  }
  return problems;
}

// ---------------------------------------------------------------------------
// Forced colours (Windows High Contrast)

/** With forced colours active: controls, error states and messages keep visible edges. */
export async function forcedColorsProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    if (!matchMedia('(forced-colors: active)').matches) return ['forced colours are not active'];
    const rgb = (value: string) => (value.match(/[\d.]+/g) ?? []).map(Number);
    const lum = (value: string) => {
      const [r = 0, g = 0, b = 0] = rgb(value);
      const ch = (v: number) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b);
    };
    const ratio = (a: string, b: string) => {
      const [x, y] = [lum(a), lum(b)];
      return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
    };
    const transparent = (value: string) => value === 'transparent' || /rgba\(.*,\s*0\)$/.test(value);
    const backgroundBehind = (el: Element | null): string => {
      for (let e = el; e; e = e.parentElement) {
        const bg = getComputedStyle(e).backgroundColor;
        if (!transparent(bg)) return bg;
      }
      return 'rgb(255, 255, 255)';
    };
    const describe = (el: Element) => `<${el.tagName.toLowerCase()}${el.id ? ` id="${el.id}"` : ''} class="${String(el.className)}">`;
    const edges = (el: Element, sides: Array<'Top' | 'Right' | 'Bottom' | 'Left'>, what: string, minWidth = 1) => {
      const style = getComputedStyle(el);
      const behind = backgroundBehind(el.parentElement);
      for (const side of sides) {
        const width = parseFloat(style.getPropertyValue(`border-${side.toLowerCase()}-width`));
        const color = style.getPropertyValue(`border-${side.toLowerCase()}-color`);
        const styleName = style.getPropertyValue(`border-${side.toLowerCase()}-style`);
        if (width < minWidth || styleName === 'none' || styleName === 'hidden' || transparent(color) || ratio(color, behind) < 3) {
          problems.push(`${what} ${describe(el)}: its ${side.toLowerCase()} edge is not visible in forced colours (${width}px ${styleName} ${color} on ${behind})`);
        }
      }
    };
    const shown = (el: Element) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
    };
    const all = ['Top', 'Right', 'Bottom', 'Left'] as const;
    for (const el of document.querySelectorAll('input:not([type="hidden"]):not([type="radio"]):not([type="checkbox"]), select, textarea')) if (shown(el)) edges(el, [...all], 'the field');
    for (const el of document.querySelectorAll('button')) if (shown(el)) edges(el, [...all], 'the button');
    for (const el of document.querySelectorAll('input[type="radio"]')) {
      const r = el.getBoundingClientRect();
      if (r.width < 24 || r.height < 24) problems.push(`the radio ${describe(el)} is smaller than 24 by 24 px`);
      if (getComputedStyle(el).forcedColorAdjust === 'none') problems.push(`the radio ${describe(el)} opts out of forced colours`);
    }
    // Error states and messages keep their edge, so they are not shown by colour alone.
    for (const el of document.querySelectorAll('.error-summary, .notification')) if (shown(el)) edges(el, [...all], 'the message box');
    for (const el of document.querySelectorAll('.form-group-error')) edges(el, ['Left'], 'the field group in error', 3);
    for (const el of document.querySelectorAll('.input-error')) {
      const normal = document.querySelector('.input:not(.input-error)');
      const width = parseFloat(getComputedStyle(el).borderTopWidth);
      if (normal && width <= parseFloat(getComputedStyle(normal).borderTopWidth)) problems.push(`the field in error ${describe(el)} looks like a field without an error in forced colours`);
    }
    for (const el of document.querySelectorAll('.error-message')) {
      if (!(el.textContent ?? '').trim().startsWith('Error:')) problems.push(`the error message ${describe(el)} does not start with "Error:"`);
    }
    for (const el of document.querySelectorAll('*')) {
      if (getComputedStyle(el).forcedColorAdjust === 'none' && el.tagName !== 'HTML') problems.push(`${describe(el)} opts out of forced colours (forced-color-adjust: none)`);
    }
    return problems;
  });
}

// ---------------------------------------------------------------------------
// Text size (WCAG 1.4.4)

/** Every element that holds text (or is a form control), in document order, with its font size in px. */
async function fontSizes(page: Page): Promise<number[]> {
  return page.evaluate(() =>
    [...document.body.querySelectorAll('*')].map((el) => {
      const holdsText = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && (n.textContent ?? '').trim() !== '');
      return holdsText || el.matches('input, select, button, textarea') ? parseFloat(getComputedStyle(el).fontSize) : 0;
    }),
  );
}

/**
 * Sets the browser's default text size to 200% (32 px, as in the browser's
 * settings, not zoom) and checks that all text grew, nothing is cut off and
 * nothing scrolls sideways. Leaves the page at 200%.
 */
export async function textSizeProblems(page: Page): Promise<string[]> {
  const before = await fontSizes(page);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Page.setFontSizes', { fontSizes: { standard: 32, fixed: 26 } });
  // The setting reaches the page asynchronously.
  await page.waitForFunction(() => getComputedStyle(document.documentElement).fontSize === '32px', null, { timeout: 5_000 }).catch(() => undefined);
  await cdp.detach();
  const after = await fontSizes(page);
  const problems: string[] = [];
  const grew = await page.evaluate(
    ([b, a]) => {
      const out: string[] = [];
      const els = [...document.body.querySelectorAll('*')];
      if (getComputedStyle(document.documentElement).fontSize !== '32px') out.push(`the root text size is ${getComputedStyle(document.documentElement).fontSize}, not 32px: the setting did not apply`);
      els.forEach((el, i) => {
        const was = b[i] ?? 0;
        const now = a[i] ?? 0;
        // 1.5: headings may grow less than body text where a narrower layout takes over; text that does not grow at all is fixed in px.
        if (was > 0 && now / was < 1.5 && !el.closest('.visually-hidden')) out.push(`<${el.tagName.toLowerCase()} class="${String(el.className)}"> "${(el.textContent ?? '').trim().slice(0, 30)}" went from ${was}px to only ${now}px`);
      });
      return out;
    },
    [before, after] as const,
  );
  problems.push(...grew.slice(0, 10));
  problems.push(
    ...(await page.evaluate(() => {
      const out: string[] = [];
      const doc = document.documentElement;
      if (doc.scrollWidth > doc.clientWidth) out.push(`with 200% text the page scrolls sideways: ${doc.scrollWidth} px wide in a ${doc.clientWidth} px window`);
      for (const el of document.body.querySelectorAll<HTMLElement>('*')) {
        if (el.closest('.visually-hidden')) continue;
        const style = getComputedStyle(el);
        if (style.display === 'none') continue;
        const clipsX = ['hidden', 'clip'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1;
        const clipsY = ['hidden', 'clip'].includes(style.overflowY) && el.scrollHeight > el.clientHeight + 1;
        // A field scrolls its own value sideways; that is not content cut off.
        if ((clipsX && !el.matches('input, select, textarea')) || clipsY) out.push(`with 200% text <${el.tagName.toLowerCase()} class="${String(el.className)}"> cuts off its content`);
        if (el.matches('button, input:not([type="radio"]):not([type="checkbox"])')) {
          if (el.clientHeight < parseFloat(style.fontSize)) out.push(`with 200% text <${el.tagName.toLowerCase()} id="${el.id}"> is shorter than its text`);
          if (el.tagName === 'BUTTON' && el.scrollWidth > el.clientWidth + 1) out.push(`with 200% text the button "${el.textContent?.trim()}" is narrower than its text`);
        }
      }
      return out;
    })),
  );
  return problems;
}

// ---------------------------------------------------------------------------
// Text spacing (WCAG 1.4.12)

/** The spacing WCAG 1.4.12 says a person may set, as a user style sheet would. */
const TEXT_SPACING = `
* { line-height: 1.5 !important; letter-spacing: 0.12em !important; word-spacing: 0.16em !important; }
p { margin-bottom: 2em !important; }
`;

/**
 * Applies the WCAG 1.4.12 text spacing through the DevTools protocol (as a
 * user style sheet, which the site's CSP does not govern, as it does not
 * govern a person's own styles) and checks that no text is cut off and
 * nothing scrolls sideways. Removes the spacing again afterwards.
 */
export async function textSpacingProblems(page: Page): Promise<string[]> {
  const remove = await applyTextSpacing(page);
  try {
    return await page.evaluate(() => {
      const out: string[] = [];
      if (getComputedStyle(document.body).letterSpacing === 'normal') out.push('the text spacing did not apply');
      const doc = document.documentElement;
      if (doc.scrollWidth > doc.clientWidth) out.push(`with wider text spacing the page scrolls sideways: ${doc.scrollWidth} px wide in a ${doc.clientWidth} px window`);
      for (const el of document.body.querySelectorAll<HTMLElement>('*')) {
        if (el.closest('.visually-hidden')) continue;
        const style = getComputedStyle(el);
        if (style.display === 'none') continue;
        const clipsX = ['hidden', 'clip'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1 && !el.matches('input, select, textarea');
        const clipsY = ['hidden', 'clip'].includes(style.overflowY) && el.scrollHeight > el.clientHeight + 1;
        if (clipsX || clipsY) out.push(`with wider text spacing <${el.tagName.toLowerCase()} class="${String(el.className)}"> cuts off its content`);
        if (el.tagName === 'BUTTON' && el.scrollWidth > el.clientWidth + 1) out.push(`with wider text spacing the button "${el.textContent?.trim()}" is narrower than its text`);
      }
      return out;
    });
  } finally {
    await remove();
  }
}

/**
 * Applies the WCAG 1.4.12 text spacing to the page as a user style sheet
 * (through the DevTools protocol, so the site's CSP does not govern it) and
 * returns the function that removes it again.
 */
export async function applyTextSpacing(page: Page): Promise<() => Promise<void>> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('DOM.enable');
  await cdp.send('CSS.enable');
  const { frameTree } = await cdp.send('Page.getFrameTree');
  const { styleSheetId } = await cdp.send('CSS.createStyleSheet', { frameId: frameTree.frame.id });
  await cdp.send('CSS.setStyleSheetText', { styleSheetId, text: TEXT_SPACING });
  return async () => {
    try {
      await cdp.send('CSS.setStyleSheetText', { styleSheetId, text: '' });
    } finally {
      await cdp.detach();
    }
  };
}

// ---------------------------------------------------------------------------
// Focus indicators (WCAG 2.4.7, and the spec's "at least a 2 px outline with contrast")

const FOCUSABLE = 'a[href], button, input:not([type="hidden"]), select, textarea, [tabindex]';

/**
 * Focuses each kind of focusable element on the page (one of each kind per
 * page: a nav link, a field, a radio, a button, a table link...) plus the
 * error summary, and compares a screenshot of it and its surroundings
 * focused against the same area unfocused. The pixels that changed with a
 * contrast of at least 3:1 must cover at least the area of a 2 px line
 * around the element.
 */
export async function focusIndicatorProblems(page: Page, checked: Set<string>, screenshotPath?: string): Promise<string[]> {
  const found = await page.evaluate((selector) => {
    const seen = new Set<string>();
    const out: Array<{ index: number; kind: string; label: string }> = [];
    [...document.querySelectorAll<HTMLElement>(selector)].forEach((el, index) => {
      const style = getComputedStyle(el);
      const isSummary = el.classList.contains('error-summary');
      if ((el.tabIndex < 0 && !isSummary) || el.hasAttribute('disabled') || style.display === 'none' || style.visibility === 'hidden') return;
      const area = el.closest('.skip-link, .site-name, nav, .error-summary, table, main, footer')?.tagName ?? 'BODY';
      const kind = [el.tagName, el.className, el.getAttribute('type') ?? '', area, el.closest('.site-header') ? 'header' : ''].join('|');
      if (seen.has(kind)) return;
      seen.add(kind);
      out.push({ index, kind, label: `<${el.tagName.toLowerCase()}${el.id ? ` id="${el.id}"` : ''}> "${(el.textContent ?? el.getAttribute('value') ?? '').replace(/\s+/g, ' ').trim().slice(0, 40)}"` });
    });
    return out;
  }, `${FOCUSABLE}, .error-summary`);
  // One of each kind across the whole run: the same kind of element gets the same focus style on every page.
  const candidates = found.filter((c) => !checked.has(c.kind));
  for (const c of candidates) checked.add(c.kind);
  const problems: string[] = [];
  const margin = 12;
  const original = await page.evaluate(() => ({ x: scrollX, y: scrollY }));
  for (const { index, label } of candidates) {
    const element = page.locator(`${FOCUSABLE}, .error-summary`).nth(index);
    // A key press first, so the browser treats what follows as keyboard focus (:focus-visible).
    await page.keyboard.press('Shift');
    await element.focus();
    const box = await element.evaluate((el) => {
      el.scrollIntoView({ block: 'center', inline: 'nearest' });
      const r = el.getBoundingClientRect();
      const vw = document.documentElement.clientWidth;
      const vh = window.innerHeight;
      // WCAG 2.4.11: what is on top at the middle of the element's first line box (a link may wrap) is the element itself.
      const line = el.getClientRects()[0] ?? r;
      const cx = (Math.max(line.left, 0) + Math.min(line.right, vw)) / 2;
      const cy = (Math.max(line.top, 0) + Math.min(line.bottom, vh)) / 2;
      const top = document.elementFromPoint(cx, cy);
      return {
        x: r.left,
        y: r.top,
        width: r.width,
        height: r.height,
        vw,
        vh,
        visible: el.matches(':focus-visible') || el.matches('.error-summary:focus'),
        covered: top !== null && top !== el && !el.contains(top) ? `<${top.tagName.toLowerCase()} class="${String(top.className)}">` : null,
      };
    });
    if (!box.visible) problems.push(`${label} does not match :focus-visible when focused from the keyboard`);
    if (box.covered) problems.push(`${label} is covered by ${box.covered} when focused`);
    const left = Math.max(0, Math.floor(box.x - margin));
    const top = Math.max(0, Math.floor(box.y - margin));
    const right = Math.min(box.vw, Math.ceil(box.x + box.width + margin));
    const bottom = Math.min(box.vh, Math.ceil(box.y + box.height + margin));
    if (right - left < 2 || bottom - top < 2) {
      problems.push(`${label} is not on screen when focused`);
      continue;
    }
    const clip = { x: left, y: top, width: right - left, height: bottom - top };
    const focused = await page.screenshot({ clip, animations: 'disabled', caret: 'hide' });
    await element.evaluate((el) => (el as HTMLElement).blur());
    const unfocused = await page.screenshot({ clip, animations: 'disabled', caret: 'hide' });
    // A 2 px line along each edge of the element that is on screen (a tall element shows only some of its edges).
    const visibleWidth = Math.max(0, Math.min(box.x + box.width, box.vw) - Math.max(box.x, 0));
    const visibleHeight = Math.max(0, Math.min(box.y + box.height, box.vh) - Math.max(box.y, 0));
    const edges =
      (box.y >= 0 ? visibleWidth : 0) +
      (box.y + box.height <= box.vh ? visibleWidth : 0) +
      (box.x >= 0 ? visibleHeight : 0) +
      (box.x + box.width <= box.vw ? visibleHeight : 0);
    const needed = Math.round(2 * edges);
    const changed = changedPixels(decodePng(focused), decodePng(unfocused), 3);
    if (changed < needed) {
      problems.push(`${label}: focusing it changes only ${changed} px with 3:1 contrast; a 2 px indicator around it needs ${needed} px`);
      if (screenshotPath) {
        await mkdir(path.dirname(screenshotPath), { recursive: true });
        const base = screenshotPath.replace(/\.png$/, '');
        await page.screenshot({ clip, path: `${base}-${index}-unfocused.png` });
        await element.focus();
        await page.screenshot({ clip, path: `${base}-${index}-focused.png` });
        await element.evaluate((el) => (el as HTMLElement).blur());
      }
    }
  }
  await page.evaluate(({ x, y }) => window.scrollTo(x, y), original);
  return problems;
}

// ---------------------------------------------------------------------------
// Screenshots

/** Chromium cannot capture an image taller than this in one piece. */
const MAX_SHOT_HEIGHT = 16_000;

/**
 * A full-page PNG. Chromium's own full-page capture ignores a changed default
 * text size, so the window is made as tall as the page instead and the
 * viewport captured. A page taller than Chromium can capture at once (the
 * 200-learner dashboard) is saved in numbered parts: name-part1.png, ...
 */
export async function fullPageScreenshot(page: Page, file: string, viewport: { width: number; height: number }): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  let height = viewport.height;
  for (let i = 0; i < 3; i += 1) {
    const needed = await page.evaluate(() => document.documentElement.scrollHeight);
    if (Math.min(needed, MAX_SHOT_HEIGHT) === height) break;
    height = Math.min(needed, MAX_SHOT_HEIGHT);
    await page.setViewportSize({ width: viewport.width, height });
  }
  const total = await page.evaluate(() => document.documentElement.scrollHeight);
  if (total <= height) {
    await page.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
  } else {
    for (let part = 1, y = 0; y < total; part += 1, y += height) {
      await page.evaluate((top) => window.scrollTo(0, top), y);
      await page.screenshot({ path: file.replace(/\.png$/, `-part${part}.png`), animations: 'disabled', caret: 'hide' });
    }
    await page.evaluate(() => window.scrollTo(0, 0));
  }
  await page.setViewportSize(viewport);
}
