/**
 * A V8 setting for the companion's way of serving pages. server.ts imports
 * this module first, so it runs before any other module's code; `npm start`
 * also passes the flag on the command line, which is where V8 documents it.
 *
 * V8 moves objects from places in the code where many survived a young
 * collection straight into the old generation ("allocation-site
 * pretenuring"). Serving a page, a collection often comes while a request is
 * still being answered, so the pieces of every later page went straight to
 * the old generation: about 250 KB a dashboard page, a full collection every
 * second under load, and the page's server CPU time more than doubled
 * (docs/performance.md, "Dashboard pages and V8's pretenuring"). A page's
 * objects live for one request; the young generation is where they belong.
 */
import v8 from 'node:v8';

v8.setFlagsFromString('--no-allocation-site-pretenuring');
