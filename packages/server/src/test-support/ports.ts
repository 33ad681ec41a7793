/** Moved to @yunying/testing (the gateway's suites use it too); kept here for the server's suites. */
export * from '@yunying/testing/ports';
