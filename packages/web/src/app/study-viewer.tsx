/**
 * The study viewer the screens use. The Cornerstone3D viewer lives in ../viewer/ (its own
 * engineer); until it lands this is the placeholder with the same props and DOM contract.
 */
export { PlaceholderViewer as StudyViewer, type StudyViewerProps } from '../viewer-placeholder/PlaceholderViewer.tsx';
