/** `npm run docs:errors`: writes docs/errors.md from the catalogs. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERRORS_DOC_PATH, renderErrorsDoc } from './errors-doc.ts';

writeFileSync(ERRORS_DOC_PATH, renderErrorsDoc());
console.log(`wrote ${fileURLToPath(ERRORS_DOC_PATH)}`);
