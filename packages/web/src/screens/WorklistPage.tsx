import { Empty } from 'antd';
import { useT } from '../i18n/i18n.tsx';

export default function WorklistPage(_props: { mode?: 'worklist' | 'review' }) {
  const t = useT();
  return <Empty description={t('nav.noHome')} />;
}
