/**
 * Viewer labels. The app passes its own translations through `labels` (any subset);
 * otherwise 简体中文 is the default and English is available for `locale="en"`.
 */
export interface ViewerLabels {
  windowLevel: string;
  pan: string;
  zoom: string;
  scroll: string;
  length: string;
  angle: string;
  rectangleRoi: string;
  ellipseRoi: string;
  presets: string;
  lung: string;
  mediastinum: string;
  bone: string;
  brain: string;
  invert: string;
  reset: string;
  layout: string;
  cinePlay: string;
  cineStop: string;
  series: string;
  images: string;
  loading: string;
  loadFailed: string;
  noImages: string;
  male: string;
  female: string;
  otherSex: string;
  sliceLocation: string;
  instance: string;
  zoomShort: string;
  windowShort: string;
  /** ROI statistics beside a rectangle or ellipse (cornerstone writes them in English) */
  roiArea: string;
  roiMean: string;
  roiMax: string;
  roiMin: string;
  roiStdDev: string;
  roiOblique: string;
  /** issue 14 item 8: viewer basics */
  magnify: string;
  abdomen: string;
  liver: string;
  subdural: string;
  defaultWindow: string;
  rotate: string;
  flipHorizontal: string;
  flipVertical: string;
  probe: string;
  ctValue: string;
  pixelValue: string;
  syncScroll: string;
  shortcut: string;
  orientation: string;
}

export const ZH_CN_LABELS: ViewerLabels = {
  windowLevel: '窗宽窗位',
  pan: '平移',
  zoom: '缩放',
  scroll: '翻页',
  length: '测距',
  angle: '角度',
  rectangleRoi: '矩形ROI',
  ellipseRoi: '椭圆ROI',
  presets: '预设窗',
  lung: '肺窗',
  mediastinum: '纵隔窗',
  bone: '骨窗',
  brain: '脑窗',
  invert: '反色',
  reset: '复位',
  layout: '布局',
  cinePlay: '播放',
  cineStop: '停止',
  series: '序列',
  images: '幅',
  loading: '正在加载…',
  loadFailed: '影像加载失败',
  noImages: '该检查没有可显示的图像',
  male: '男',
  female: '女',
  otherSex: '其他',
  sliceLocation: '层位置',
  instance: '图像',
  zoomShort: '缩放',
  windowShort: '窗宽/窗位',
  roiArea: '面积',
  roiMean: '均值',
  roiMax: '最大值',
  roiMin: '最小值',
  roiStdDev: '标准差',
  roiOblique: '斜切面不支持',
  magnify: '放大镜',
  abdomen: '腹窗',
  liver: '肝窗',
  subdural: '硬膜下窗',
  defaultWindow: '默认窗',
  rotate: '顺时针旋转90°',
  flipHorizontal: '水平翻转',
  flipVertical: '垂直翻转',
  probe: 'CT值测量',
  ctValue: 'CT值',
  pixelValue: '像素值',
  syncScroll: '同步翻页',
  shortcut: '快捷键',
  orientation: '方位标记',
};

export const EN_LABELS: ViewerLabels = {
  windowLevel: 'Window/level',
  pan: 'Pan',
  zoom: 'Zoom',
  scroll: 'Scroll',
  length: 'Length',
  angle: 'Angle',
  rectangleRoi: 'Rectangle ROI',
  ellipseRoi: 'Ellipse ROI',
  presets: 'Presets',
  lung: 'Lung',
  mediastinum: 'Mediastinum',
  bone: 'Bone',
  brain: 'Brain',
  invert: 'Invert',
  reset: 'Reset',
  layout: 'Layout',
  cinePlay: 'Play',
  cineStop: 'Stop',
  series: 'Series',
  images: 'images',
  loading: 'Loading…',
  loadFailed: 'The images could not be loaded',
  noImages: 'This study has no images to show',
  male: 'M',
  female: 'F',
  otherSex: 'O',
  sliceLocation: 'Loc',
  instance: 'Im',
  zoomShort: 'Zoom',
  windowShort: 'W/C',
  roiArea: 'Area',
  roiMean: 'Mean',
  roiMax: 'Max',
  roiMin: 'Min',
  roiStdDev: 'Std Dev',
  roiOblique: 'Oblique not supported',
  magnify: 'Magnifier',
  abdomen: 'Abdomen',
  liver: 'Liver',
  subdural: 'Subdural',
  defaultWindow: 'Default window',
  rotate: 'Rotate 90° clockwise',
  flipHorizontal: 'Flip horizontally',
  flipVertical: 'Flip vertically',
  probe: 'Pixel value probe',
  ctValue: 'CT value',
  pixelValue: 'Value',
  syncScroll: 'Synchronised scrolling',
  shortcut: 'Shortcut',
  orientation: 'Orientation markers',
};

export function resolveLabels(locale: string | undefined, overrides: Partial<ViewerLabels> | undefined): ViewerLabels {
  const base = locale && locale.toLowerCase().startsWith('en') ? EN_LABELS : ZH_CN_LABELS;
  return { ...base, ...overrides };
}
