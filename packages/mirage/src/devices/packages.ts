/** The npm packages predefined devices come from. */
export const RUNTIME_PACKAGE = "@mirage-ts/runtime";
export const UNIX_PACKAGE = "@mirage-ts/unix";
export const HTTP_PACKAGE = "@mirage-ts/http";
export const TCPIP_PACKAGE = "@mirage-ts/tcpip";
