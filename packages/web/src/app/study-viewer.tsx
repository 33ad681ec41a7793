import type { JSX } from 'react';
import { StudyViewer as CornerstoneViewer, type StudyViewerProps } from '../viewer/StudyViewer.tsx';
import { useI18n } from '../i18n/i18n.tsx';

export type { StudyViewerProps };

/**
 * The study viewer the screens use: the Cornerstone3D viewer of ../viewer/ in the app's
 * language. (../viewer-placeholder/ has a server-rendered stand-in on the same contract.)
 */
export function StudyViewer(props: StudyViewerProps): JSX.Element {
  const { locale } = useI18n();
  return <CornerstoneViewer {...props} locale={locale === 'en' ? 'en' : 'zh-CN'} />;
}
