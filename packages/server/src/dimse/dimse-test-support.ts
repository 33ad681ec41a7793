/** The dcmtk helpers moved to @yunying/testing; kept here for the server's suites that import them. */
export * from '@yunying/testing/dcmtk';
