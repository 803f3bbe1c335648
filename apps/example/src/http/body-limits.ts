/** Body size limit for JSON and forms: a login needs a few hundred bytes. */
export const BODY_LIMIT_BYTES = 16 * 1024;

/** Form fields accepted in one body: the login form has two. */
export const FORM_FIELD_LIMIT = 20;
