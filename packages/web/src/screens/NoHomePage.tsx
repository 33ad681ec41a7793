import { Result } from 'antd';
import { useT } from '../i18n/i18n.tsx';

export default function NoHomePage() {
  const t = useT();
  return <Result status="info" title={t('nav.noHome')} />;
}
